"""load_mnist: search order, formats, damage, the offline error, splits, the real data.

Small fake MNIST folders are written to tmp_path; their checksums replace the real ones
for the duration of a test. The real-data test reads the shared copy. Nothing here goes
beyond loopback: the mirrors point at a closed local port and the cache at tmp_path.
"""

import gzip
import hashlib
import os
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from course_utils.data import (
    MNIST,
    MNIST_FILES,
    CorruptFileError,
    DatasetNotFoundError,
    load_mnist,
    write_idx,
)
from course_utils.data import mnist as mnist_mod

SHARED = os.environ.get("COURSE_DATA_DIR")  # set by conftest to the shared copy
REAL_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def closed_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/mnist/"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No real cache, no COURSE_DATA_DIR, mirrors on a closed loopback port."""
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COURSE_MNIST_MIRRORS", closed_port_url())
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)


def fake_arrays(n_train=40, n_test=20):
    rng = np.random.default_rng(0)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 10).astype(np.uint8),
    }


FAKE = fake_arrays()


def write_fake(folder: Path, gz=True, arrays=FAKE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, (name, arr) in enumerate(arrays.items()):
        use_gz = gz if isinstance(gz, bool) else bool(i % 2)  # gz="mixed"
        write_idx(folder / (name + (".gz" if use_gz else "")), arr)
    return folder


def patch_sums(monkeypatch, scratch: Path, arrays=FAKE):
    """Make the checksums of ``arrays`` (as IDX content) the expected ones."""
    folder = write_fake(scratch, gz=False, arrays=arrays)
    for name in MNIST_FILES:
        digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        monkeypatch.setitem(mnist_mod.MNIST_SHA256, name, digest)


@pytest.fixture
def fake_sums(tmp_path, monkeypatch):
    patch_sums(monkeypatch, tmp_path / "sums")


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize("gz", [True, False, "mixed"])
@pytest.mark.parametrize("sub", ["", "mnist"])
def test_reads_folder_directly_or_mnist_subfolder(tmp_path, fake_sums, gz, sub):
    root = tmp_path / "d"
    write_fake(root / sub if sub else root, gz=gz)
    m = load_mnist(root)
    assert m.source == (root / sub if sub else root)
    assert m.mirror is None
    assert m.X_train.shape == (40, 28, 28) and m.X_train.dtype == np.float32
    assert m.y_train.shape == (40,) and m.y_train.dtype == np.int64
    assert m.X_test.shape == (20, 28, 28) and m.y_test.dtype == np.int64
    np.testing.assert_allclose(m.X_train, FAKE["train-images-idx3-ubyte"] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(m.y_test, FAKE["t10k-labels-idx1-ubyte"])
    assert 0.0 <= m.X_train.min() and m.X_train.max() <= 1.0


def test_flatten_and_one_hot(tmp_path, fake_sums):
    m = load_mnist(write_fake(tmp_path / "d"), flatten=True, one_hot=True)
    assert m.X_train.shape == (40, 784) and m.X_test.shape == (20, 784)
    np.testing.assert_allclose(
        m.X_train[3], FAKE["train-images-idx3-ubyte"][3].ravel() / 255.0, rtol=1e-6
    )
    assert m.y_train.shape == (40, 10) and m.y_train.dtype == np.float32
    np.testing.assert_array_equal(m.y_train.argmax(1), FAKE["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(m.y_train.sum(1), 1.0)


def test_unpacking_and_pairs(tmp_path, fake_sums):
    m = load_mnist(write_fake(tmp_path / "d"))
    X_train, y_train, X_test, y_test = m
    assert X_train is m.X_train and y_test is m.y_test
    assert m.X_val is None and m.y_val is None and m.val == (None, None)
    assert m.train[0] is m.X_train and m.test[1] is m.y_test
    mv = load_mnist(tmp_path / "d", validation_size=10)
    assert len(list(mv)) == 6
    X_train, y_train, X_val, y_val, X_test, y_test = mv
    assert X_val is mv.X_val and len(X_val) == 10
    assert "(30, 28, 28)" in repr(mv) and "float32" in repr(mv)
    with pytest.raises(AttributeError):
        mv.X_train = None  # frozen


# --------------------------------------------------------------------------- search order


def test_argument_beats_env_beats_cache(tmp_path, fake_sums, monkeypatch):
    arg, env, cache = tmp_path / "arg", tmp_path / "env", tmp_path / "cache"
    for d in (arg, env, cache):
        write_fake(d / "mnist")
    monkeypatch.setenv("COURSE_DATA_DIR", str(env))
    assert load_mnist(arg).source == arg / "mnist"
    assert load_mnist().source == env / "mnist"
    monkeypatch.delenv("COURSE_DATA_DIR")
    assert load_mnist().source == cache / "mnist"  # COURSE_CACHE_DIR points at it


def test_cache_dir_argument_beats_cache_env(tmp_path, fake_sums):
    write_fake(tmp_path / "cache" / "mnist")
    other = write_fake(tmp_path / "other" / "mnist")
    assert load_mnist(cache_dir=tmp_path / "other").source == other
    assert load_mnist().source == tmp_path / "cache" / "mnist"


def test_default_cache_is_platformdirs(monkeypatch, tmp_path):
    import platformdirs

    monkeypatch.delenv("COURSE_CACHE_DIR")
    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda app: str(tmp_path / app))
    assert mnist_mod.default_cache_dir() == tmp_path / "nn-course"


def test_incomplete_folder_is_skipped_for_the_next(tmp_path, fake_sums, monkeypatch):
    partial = write_fake(tmp_path / "arg")
    (partial / "t10k-labels-idx1-ubyte.gz").unlink()
    env = write_fake(tmp_path / "env")
    monkeypatch.setenv("COURSE_DATA_DIR", str(env))
    assert load_mnist(partial).source == env


# --------------------------------------------------------------------------- offline error


def test_offline_error_lists_folders_files_mirrors_and_fix(tmp_path, monkeypatch):
    arg, env = tmp_path / "arg", tmp_path / "env"
    write_fake(arg)
    (arg / "train-labels-idx1-ubyte.gz").unlink()
    monkeypatch.setenv("COURSE_DATA_DIR", str(env))
    m1, m2 = closed_port_url(), closed_port_url() + "second/"
    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist(arg, mirrors=[m1, m2], verbose=False)
    assert isinstance(info.value, FileNotFoundError)
    msg = str(info.value)
    for folder in (arg, arg / "mnist", env, env / "mnist", tmp_path / "cache"):
        assert str(folder) in msg, folder
    assert "missing train-labels-idx1-ubyte" in msg
    for name in MNIST_FILES:
        assert name in msg
    assert m1 + "train-images-idx3-ubyte.gz" in msg
    assert m2 + "train-images-idx3-ubyte.gz" in msg
    assert msg.count("cannot connect") == 2
    assert "COURSE_DATA_DIR=" in msg and "data_dir=" in msg
    assert not list((tmp_path / "cache").rglob("*.part"))


def test_offline_error_without_download(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="download=False") as info:
        load_mnist(tmp_path / "nothing", download=False)
    assert "COURSE_DATA_DIR: not set" in str(info.value)
    assert "cannot connect" not in str(info.value)
    assert not (tmp_path / "cache").exists()  # nothing was created


def test_mirrors_env_variable_is_used(tmp_path, monkeypatch):
    a, b = closed_port_url() + "a/", closed_port_url() + "b/"
    monkeypatch.setenv("COURSE_MNIST_MIRRORS", f"{a}, {b}")
    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist(verbose=False)
    assert a in str(info.value) and b in str(info.value)


def test_empty_mirror_list_rejected(tmp_path):
    with pytest.raises(ValueError, match="mirrors"):
        load_mnist(mirrors=[], verbose=False)


# --------------------------------------------------------------------------- damaged files


def _damage(path: Path, how: str):
    data = gzip.decompress(path.read_bytes())
    if how == "truncated":
        data = data[:-100]
    elif how == "magic":
        data = b"\x12\x34" + data[2:]
    elif how == "checksum":
        data = data[:-1] + bytes([data[-1] ^ 1])
    elif how == "gzip":
        gz = path.read_bytes()
        path.write_bytes(gz[: len(gz) // 2])
        return
    path.write_bytes(gzip.compress(data))


@pytest.mark.parametrize(
    "how, pattern",
    [
        ("truncated", "truncated"),
        ("magic", "bad magic number: expected 0x0000TTNN.*got 0x12340803"),
        ("checksum", "sha256.*expected [0-9a-f]{64}, got [0-9a-f]{64}"),
        ("gzip", "gzip"),
    ],
)
def test_damaged_file_in_data_dir_raises_and_is_not_skipped(
    tmp_path, fake_sums, monkeypatch, how, pattern
):
    bad = write_fake(tmp_path / "arg")
    good = write_fake(tmp_path / "env")
    monkeypatch.setenv("COURSE_DATA_DIR", str(good))
    victim = bad / "t10k-images-idx3-ubyte.gz"
    _damage(victim, how)
    with pytest.raises(CorruptFileError, match=pattern) as info:
        load_mnist(bad)
    assert info.value.path == victim
    assert str(victim) in str(info.value)
    assert "data_dir argument" in str(info.value) and "replace the file" in str(info.value)


def test_fake_files_fail_the_real_checksums(tmp_path):
    # With the real checksums a fake file always fails: the message must say sha256.
    folder = write_fake(tmp_path / "arg")
    with pytest.raises(CorruptFileError, match="sha256"):
        load_mnist(folder)


def test_damaged_cache_file_without_download_raises(tmp_path, fake_sums):
    folder = write_fake(tmp_path / "cache" / "mnist")
    _damage(folder / "train-labels-idx1-ubyte.gz", "checksum")
    with pytest.raises(CorruptFileError, match="train-labels"):
        load_mnist(download=False)
    assert (folder / "train-labels-idx1-ubyte.gz").exists()  # not deleted without a way back


def test_damaged_cache_file_is_deleted_then_refetched(tmp_path, fake_sums, capsys):
    folder = write_fake(tmp_path / "cache" / "mnist")
    _damage(folder / "train-labels-idx1-ubyte.gz", "truncated")
    with pytest.raises(DatasetNotFoundError, match="cannot connect"):
        load_mnist()  # the mirrors are unreachable here; see test_data_download for success
    assert not (folder / "train-labels-idx1-ubyte.gz").exists()
    assert "corrupt" in capsys.readouterr().out


# --------------------------------------------------------------------------- validation split


def test_validation_split_is_stratified_seeded_and_disjoint(tmp_path, monkeypatch):
    n200 = fake_arrays(n_train=200)
    folder = write_fake(tmp_path / "d", arrays=n200)
    patch_sums(monkeypatch, tmp_path / "sums", n200)
    m = load_mnist(folder, validation_size=0.25, seed=3)
    assert len(m.X_val) == 50 and len(m.X_train) == 150
    np.testing.assert_array_equal(np.bincount(m.y_val, minlength=10), 5)
    # train + val is exactly the original training set (rows identified by content)
    all_rows = np.concatenate([m.X_train, m.X_val]).reshape(200, -1)
    orig = (n200["train-images-idx3-ubyte"].reshape(200, -1) / 255.0).astype(np.float32)
    key = lambda a: sorted(map(bytes, a))  # noqa: E731
    assert key(all_rows) == key(orig)
    label_of = {bytes(r): lab for r, lab in zip(orig, n200["train-labels-idx1-ubyte"], strict=True)}
    assert [label_of[bytes(r)] for r in m.X_val.reshape(50, -1)] == m.y_val.tolist()
    assert [label_of[bytes(r)] for r in m.X_train.reshape(150, -1)] == m.y_train.tolist()
    again = load_mnist(folder, validation_size=50, seed=3)
    np.testing.assert_array_equal(again.X_val, m.X_val)
    other = load_mnist(folder, validation_size=50, seed=4)
    assert not np.array_equal(other.X_val, m.X_val)
    onehot = load_mnist(folder, validation_size=50, seed=3, one_hot=True, flatten=True)
    np.testing.assert_array_equal(onehot.y_val.argmax(1), m.y_val)
    assert onehot.X_val.shape == (50, 784)


@pytest.mark.parametrize("bad", [-1, 40, 1.0, 1.5, True, "10"])
def test_validation_size_rejected(tmp_path, fake_sums, bad):
    with pytest.raises(ValueError, match="validation_size"):
        load_mnist(write_fake(tmp_path / "d"), validation_size=bad)


def test_seed_must_be_int(tmp_path, fake_sums):
    with pytest.raises(ValueError, match="seed"):
        load_mnist(write_fake(tmp_path / "d"), seed=0.5)


# --------------------------------------------------------------------------- the real MNIST


@pytest.mark.skipif(
    not (SHARED and (Path(SHARED) / "mnist").is_dir()), reason="shared MNIST copy not available"
)
def test_real_mnist_sanity_figures():
    t0 = time.perf_counter()
    m = load_mnist(SHARED)
    seconds = time.perf_counter() - t0
    assert isinstance(m, MNIST)
    assert m.source == Path(SHARED) / "mnist"
    assert m.X_train.shape == (60000, 28, 28) and m.X_test.shape == (10000, 28, 28)
    assert m.X_train.dtype == np.float32 and m.y_train.dtype == np.int64
    assert m.X_train.min() == 0.0 and m.X_train.max() == 1.0
    assert abs(float(m.X_train.mean(dtype=np.float64)) - 0.1307) < 5e-5
    assert abs(float(m.X_train.std(dtype=np.float64)) - 0.3081) < 5e-5
    assert np.bincount(m.y_train).tolist() == REAL_COUNTS
    assert np.bincount(m.y_test).sum() == 10000 and set(np.unique(m.y_test)) == set(range(10))
    assert seconds < 10.0, f"loading MNIST took {seconds:.2f} s"


@pytest.mark.skipif(
    not (SHARED and (Path(SHARED) / "mnist").is_dir()), reason="shared MNIST copy not available"
)
def test_real_mnist_validation_split_keeps_class_proportions():
    m = load_mnist(SHARED, validation_size=6000, seed=0, flatten=True)
    assert m.X_train.shape == (54000, 784) and m.X_val.shape == (6000, 784)
    counts = np.bincount(m.y_val, minlength=10)
    expected = np.array(REAL_COUNTS) / 10
    assert np.abs(counts - expected).max() <= 1
    assert np.bincount(m.y_train).tolist() == (np.array(REAL_COUNTS) - counts).tolist()
