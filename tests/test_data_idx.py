"""IDX reading/writing: round trips (gz and raw) and every kind of damage."""

import gzip
import hashlib

import numpy as np
import pytest

from course_utils.data import CorruptFileError, read_idx, write_idx
from course_utils.data.idx import parse_idx


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_round_trip(tmp_path, suffix, dtype):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal((5, 3, 4)) * 50).astype(dtype)
    path = write_idx(tmp_path / f"a-idx3{suffix}", arr)
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, arr)
    assert path.read_bytes()[:2] == (b"\x1f\x8b" if suffix else b"\x00\x00")


def test_header_layout_is_the_mnist_one(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    path = write_idx(tmp_path / "labels", labels)
    data = path.read_bytes()
    assert data[:8] == bytes([0, 0, 8, 1, 0, 0, 0, 10])
    assert data[8:] == labels.tobytes()
    images = np.zeros((2, 28, 28), np.uint8)
    head = write_idx(tmp_path / "images", images).read_bytes()[:16]
    assert head == bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28])


def test_big_endian_values(tmp_path):
    raw = bytes([0, 0, 0x0B, 1, 0, 0, 0, 2]) + (258).to_bytes(2, "big") + (1).to_bytes(2, "big")
    (tmp_path / "f").write_bytes(raw)
    np.testing.assert_array_equal(read_idx(tmp_path / "f"), [258, 1])


def test_gzip_content_recognised_whatever_the_name(tmp_path):
    arr = np.arange(6, dtype=np.uint8)
    path = write_idx(tmp_path / "plain-name", arr, compress=True)
    np.testing.assert_array_equal(read_idx(path), arr)


def test_checksum_is_of_decompressed_content(tmp_path):
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    raw = write_idx(tmp_path / "x", arr)
    digest = hashlib.sha256(raw.read_bytes()).hexdigest()
    gz = write_idx(tmp_path / "x.gz", arr)
    read_idx(raw, sha256=digest)
    read_idx(gz, sha256=digest)  # a different wrapper, the same content: passes
    read_idx(gz, sha256=digest.upper())


def test_checksum_mismatch_names_file_expected_and_got(tmp_path):
    path = write_idx(tmp_path / "x.gz", np.arange(12, dtype=np.uint8))
    wrong = "0" * 64
    with pytest.raises(CorruptFileError) as info:
        read_idx(path, sha256=wrong)
    msg = str(info.value)
    assert str(path) in msg and wrong in msg and "sha256" in msg
    got = hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()
    assert got in msg
    assert info.value.path == path


def test_bad_magic(tmp_path):
    path = tmp_path / "page.gz"
    path.write_bytes(b"<html><body>404 Not Found</body></html>")
    with pytest.raises(CorruptFileError, match="bad magic number.*0x3c68746d"):
        read_idx(path)


@pytest.mark.parametrize(
    "head", [bytes([1, 0, 8, 1]), bytes([0, 0, 7, 1]), bytes([0, 0, 8, 0]), b"\x00\x00"]
)
def test_bad_magic_variants(head):
    with pytest.raises(CorruptFileError, match="bad magic|too short"):
        parse_idx(head + b"\x00" * 8)


@pytest.mark.parametrize("cut", [1, 100, 790])
def test_truncated_raw_file(tmp_path, cut):
    data = write_idx(tmp_path / "x", np.zeros((1, 28, 28), np.uint8)).read_bytes()
    (tmp_path / "x").write_bytes(data[:-cut])
    with pytest.raises(CorruptFileError, match="truncated") as info:
        read_idx(tmp_path / "x")
    if cut < 790:  # the header is intact: the message gives both sizes
        assert f"{len(data)} bytes" in str(info.value)
        assert f"{len(data) - cut} bytes" in str(info.value)
        assert "(1, 28, 28)" in str(info.value)


def test_trailing_bytes(tmp_path):
    data = write_idx(tmp_path / "x", np.zeros(3, np.uint8)).read_bytes()
    (tmp_path / "x").write_bytes(data + b"\x00")
    with pytest.raises(CorruptFileError, match="trailing bytes"):
        read_idx(tmp_path / "x")


def test_truncated_gzip(tmp_path):
    path = write_idx(tmp_path / "x.gz", np.arange(4000, dtype=np.int32))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError, match="gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_gzip_with_flipped_bytes(tmp_path):
    path = write_idx(tmp_path / "x.gz", np.arange(4000, dtype=np.int32))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match="gzip"):
        read_idx(path)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope")


def test_write_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(ValueError, match="arr: .*int64"):
        write_idx(tmp_path / "x", np.zeros(3, np.int64))
