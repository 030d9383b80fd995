"""Reading and writing IDX files, the format of the MNIST distribution.

An IDX file is a 4-byte magic number ``00 00 TT NN`` (``TT`` the element type, ``NN`` the
number of dimensions), ``NN`` big-endian uint32 sizes, then the elements in C order,
big-endian. MNIST images are ``00 00 08 03`` (uint8, 3-D: N x 28 x 28), labels
``00 00 08 01`` (uint8, 1-D: N).

Files may be gzip-compressed (recognised by their content, whatever their name). Every
problem (gzip error, bad magic number, length that disagrees with the header, checksum
mismatch) raises :class:`CorruptFileError` naming the file, what was expected and what
was found: a damaged file is never returned as data.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from pathlib import Path

import numpy as np

# IDX type byte -> NumPy dtype (big-endian, as stored in the file).
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


class CorruptFileError(ValueError):
    """A data file exists but is damaged (truncated, wrong format, wrong checksum).

    Attributes:
        path: the offending file.
        problem: what is wrong, with the expected and the found value.
    """

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def read_bytes(path: str | os.PathLike) -> bytes:
    """Return the content of ``path``, gunzipped if it is gzip-compressed.

    Raises:
        CorruptFileError: the file looks gzipped but cannot be decompressed (truncated
            download, flipped bytes).
    """
    path = Path(path)
    data = path.read_bytes()
    if not data.startswith(_GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        # BadGzipFile is an OSError; a truncated stream is an EOFError.
        raise CorruptFileError(path, f"gzip data is damaged or truncated ({exc})") from None


def sha256_hex(data: bytes) -> str:
    """Hex sha256 of ``data`` (about 20 ms for the 47 MB of MNIST training images)."""
    return hashlib.sha256(data).hexdigest()


def parse_idx(data: bytes, path: str | os.PathLike = "<bytes>") -> np.ndarray:
    """Parse decompressed IDX ``data`` into an array of native byte order.

    Args:
        data: the whole (decompressed) file content.
        path: used in error messages only.

    Returns:
        An array with the shape and element type the header announces (read-only when
        it is a zero-copy view of ``data``).

    Raises:
        CorruptFileError: bad magic number or a length that disagrees with the header.
    """
    if len(data) < 4:
        raise CorruptFileError(path, f"too short for an IDX header: {len(data)} bytes")
    zero, type_code, ndim = int.from_bytes(data[:2], "big"), data[2], data[3]
    if zero != 0 or type_code not in IDX_DTYPES or ndim == 0:
        raise CorruptFileError(
            path,
            f"bad magic number: expected 0x0000TTNN with TT in "
            f"{{{', '.join(f'{t:02x}' for t in IDX_DTYPES)}}} and NN >= 1, "
            f"got 0x{data[:4].hex()} ({data[:4]!r}); not an IDX file",
        )
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise CorruptFileError(
            path, f"truncated header: {ndim} dimensions need {header_len} bytes, got {len(data)}"
        )
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = IDX_DTYPES[type_code]
    expected = header_len + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "trailing bytes"
        raise CorruptFileError(
            path,
            f"{what}: header announces shape {shape} of {dtype.name}, i.e. {expected} bytes, "
            f"but the content has {len(data)} bytes",
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(shape)
    return arr if dtype.byteorder in "=|" else arr.astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike, *, sha256: str | None = None) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw) and optionally verify its content checksum.

    Args:
        path: the file.
        sha256: expected hex sha256 of the *decompressed* content; ``None`` skips the
            check. The structure (magic number, length) is always checked.

    Returns:
        The array the file holds, e.g. (N, 28, 28) uint8 for MNIST images.

    Raises:
        FileNotFoundError: no such file.
        CorruptFileError: gzip error, bad magic number, wrong length, checksum mismatch.
    """
    data = read_bytes(path)
    arr = parse_idx(data, path)
    if sha256 is not None:
        got = sha256_hex(data)
        if got != sha256.lower():
            raise CorruptFileError(
                path, f"sha256 of the decompressed content: expected {sha256}, got {got}"
            )
    return arr


def write_idx(path: str | os.PathLike, arr, *, compress: bool | None = None) -> Path:
    """Write ``arr`` as an IDX file (gzip-compressed if ``compress`` or the name ends in .gz).

    Args:
        path: destination.
        arr: array whose dtype is one of uint8, int8, int16, int32, float32, float64.
        compress: gzip the file; default: when ``path`` ends with ``.gz``.

    Returns:
        The path written.
    """
    path = Path(path)
    arr = np.asarray(arr)
    codes = {dt.newbyteorder("=") if dt.itemsize > 1 else dt: c for c, dt in IDX_DTYPES.items()}
    key = arr.dtype.newbyteorder("=") if arr.dtype.itemsize > 1 else arr.dtype
    if key not in codes or arr.ndim == 0:
        raise ValueError(
            f"arr: expected an array of >= 1 dimensions with dtype in "
            f"{sorted(str(d) for d in codes)}, got {arr.dtype} of shape {arr.shape}"
        )
    code = codes[key]
    header = bytes([0, 0, code, arr.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in arr.shape)
    data = header + np.ascontiguousarray(arr, dtype=IDX_DTYPES[code]).tobytes()
    if compress is None:
        compress = path.name.endswith(".gz")
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path
