"""Downloading a file from a list of mirrors, verifying it before it is kept.

:func:`fetch` tries each mirror in turn: it streams the file to a temporary name next to
the destination (with a ``tqdm`` progress bar on stdout, never stderr, so nbgrader test
cells stay clean), runs the caller's ``verify`` on it, and only then renames it into
place. A failed or corrupt download is deleted and the next mirror is tried; the reason
each mirror failed is kept for the error message.
"""

from __future__ import annotations

import http.client
import logging
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from course_utils.data.idx import CorruptFileError

logger = logging.getLogger("course_utils.data")

#: Seconds to wait for a connection or for the next chunk of data.
TIMEOUT = 30.0
_CHUNK = 1 << 16


@dataclass
class FetchResult:
    """Outcome of :func:`fetch`.

    Attributes:
        path: the verified file, or None when every mirror failed.
        url: the URL it came from.
        mirror: the mirror (base URL) it came from.
        failures: (url, reason) for every mirror that failed, in the order tried.
    """

    path: Path | None = None
    url: str | None = None
    mirror: str | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)


def say(msg: str, verbose: bool) -> None:
    """Log ``msg`` on the ``course_utils.data`` logger and, if ``verbose``, print it."""
    logger.info(msg)
    if verbose:
        print(msg, flush=True)


def join_url(mirror: str, name: str) -> str:
    """``mirror`` + ``/`` + ``name`` with exactly one slash between them."""
    return mirror.rstrip("/") + "/" + name


def download(url: str, dest: Path, *, progress: bool = True, timeout: float = TIMEOUT) -> None:
    """Stream ``url`` into the file ``dest`` (overwritten), with a progress bar.

    Raises:
        OSError, urllib.error.URLError, http.client.HTTPException: the transfer failed
            (refused, HTTP error status, time-out, connection closed early).
    """
    from tqdm.auto import tqdm

    req = urllib.request.Request(url, headers={"User-Agent": "nn-course/course_utils"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        length = resp.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        received = 0
        with (
            open(dest, "wb") as out,
            tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=url.rsplit("/", 1)[-1],
                disable=not progress,
                file=sys.stdout,
                leave=False,
            ) as bar,
        ):
            while chunk := resp.read(_CHUNK):
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    if total is not None and received != total:
        raise OSError(f"connection closed after {received} of {total} bytes")


def fetch(
    name: str,
    dest_dir: Path,
    mirrors: list[str],
    verify: Callable[[Path], str],
    *,
    verbose: bool = True,
) -> FetchResult:
    """Download ``name`` from the first mirror that serves a file passing ``verify``.

    Args:
        name: file name on the mirrors (e.g. ``train-images-idx3-ubyte.gz``).
        dest_dir: folder to keep the verified file in (created if needed).
        mirrors: base URLs, tried in order.
        verify: called on the downloaded temporary file; returns the final file name to
            keep it under (e.g. without ``.gz`` if the mirror served it uncompressed) or
            raises an exception whose message says what is wrong.
        verbose: print progress bars and one line per attempt.

    Returns:
        A :class:`FetchResult`; ``path`` is None when every mirror failed, and
        ``failures`` says why each one did.
    """
    result = FetchResult()
    dest_dir.mkdir(parents=True, exist_ok=True)
    for mirror in mirrors:
        url = join_url(mirror, name)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=dest_dir)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            say(f"Downloading {url}", verbose)
            download(url, tmp, progress=verbose)
            final_name = verify(tmp)
            final = dest_dir / final_name
            os.replace(tmp, final)
        except urllib.error.HTTPError as exc:
            reason = f"HTTP {exc.code} {exc.reason}"
        except urllib.error.URLError as exc:
            reason = f"cannot connect ({exc.reason})"
        except CorruptFileError as exc:  # name the URL, not the temporary file
            reason = f"CorruptFileError: {exc.problem}"
        except (OSError, http.client.HTTPException, ValueError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
        else:
            result.path, result.url, result.mirror = final, url, mirror
            say(f"Verified {final_name} from mirror {mirror}", verbose)
            return result
        finally:
            tmp.unlink(missing_ok=True)
        result.failures.append((url, reason))
        say(f"Mirror {mirror} failed for {name}: {reason}", verbose)
    return result
