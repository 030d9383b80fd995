"""Datasets and mini-batches for the course.

- MNIST from the four standard IDX files: :func:`load_mnist` returns float32 images in
  [0, 1] and int64 (or one-hot) labels, with an optional stratified validation split.
- iris and the 8x8 digits from scikit-learn's bundled copies (offline):
  :func:`load_iris` (raw order, sorted by class!), :func:`load_digits`, and
  :func:`train_test_split_stratified`.
- Seeded synthetic data: :func:`make_function_data`, :func:`make_spirals`,
  :func:`make_moons`, :func:`make_imbalanced`.
- :class:`DataLoader`: shuffled, seeded mini-batches, a new order every epoch.

Where :func:`load_mnist` looks for the files, in order (the first folder that holds all
four files, directly or in a ``mnist/`` sub-folder, ``.gz`` or raw, wins):

1. the ``data_dir`` argument;
2. the ``COURSE_DATA_DIR`` environment variable;
3. the cache: the ``cache_dir`` argument, else ``COURSE_CACHE_DIR``, else
   ``platformdirs.user_cache_dir("nn-course")`` (e.g. ``~/.cache/nn-course`` on Linux);
4. otherwise it downloads the missing files into ``<cache>/mnist/`` from the mirrors
   (the ``mirrors`` argument, else ``COURSE_MNIST_MIRRORS``, else :data:`MNIST_MIRRORS`),
   trying them in turn, with a progress bar, and keeps a file only once its checksum
   matches.

Every file is checked on every load (IDX header, length, sha256 of the decompressed
content; ~30 ms). A damaged file in a folder you chose raises :class:`CorruptFileError`
naming it and what is wrong; it is never used, and the loader does not silently fall
back to another copy. With no copy and no network, :class:`DatasetNotFoundError` lists
the folders searched, the files expected and why each mirror failed.
"""

from course_utils.data.datasets import (
    Dataset,
    load_digits,
    load_iris,
    train_test_split_stratified,
)
from course_utils.data.idx import CorruptFileError, read_idx, write_idx
from course_utils.data.loader import DataLoader
from course_utils.data.mnist import (
    MNIST,
    MNIST_FILES,
    MNIST_MIRRORS,
    MNIST_SHA256,
    DatasetNotFoundError,
    default_cache_dir,
    load_mnist,
)
from course_utils.data.synthetic import (
    default_target,
    make_function_data,
    make_imbalanced,
    make_moons,
    make_spirals,
)

__all__ = [
    "MNIST",
    "MNIST_FILES",
    "MNIST_MIRRORS",
    "MNIST_SHA256",
    "CorruptFileError",
    "DataLoader",
    "Dataset",
    "DatasetNotFoundError",
    "default_cache_dir",
    "default_target",
    "load_digits",
    "load_iris",
    "load_mnist",
    "make_function_data",
    "make_imbalanced",
    "make_moons",
    "make_spirals",
    "read_idx",
    "train_test_split_stratified",
    "write_idx",
]
