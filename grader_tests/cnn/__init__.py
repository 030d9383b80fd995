"""Checks for assignment 06_cnn: convolution and pooling from scratch, im2col, a small NumPy
CNN and a VGG-style Keras CNN on MNIST. One module per task:

- ``conv_naive``: ``conv_forward_naive`` / ``conv_backward_naive`` (task 1);
- ``pooling``: ``max_pool_forward_naive`` / ``max_pool_backward_naive`` (task 2);
- ``im2col``: ``im2col``, ``col2im``, ``conv_forward_im2col`` / ``conv_backward_im2col``
  (task 3);
- ``small_cnn``: ``SmallCNN`` and the trained network's accuracy (task 4);
- ``vgg``: ``build_vgg`` and the trained Keras model's accuracy (task 5).

Layout NCHW, weights (F, C, HH, WW), the CS231n convention; the notebook calls every check
as ``cnn.check_<task>(...)``. Each test cell scores its own task: the backward checks build
the skeleton's cache themselves, the fast convolution runs with the course's ``im2col`` /
``col2im``, ``SmallCNN`` with the course's fast convolution (``stand_ins``), and the
accuracy checks grade trained weights evaluated here.
"""

from course_utils.grading import seal

from .conv_naive import (
    check_conv_backward_naive,
    check_conv_backward_naive_hidden,
    check_conv_forward_naive,
    check_conv_forward_naive_hidden,
)
from .im2col import (
    check_col2im,
    check_col2im_hidden,
    check_conv_backward_im2col,
    check_conv_backward_im2col_hidden,
    check_conv_forward_im2col,
    check_conv_forward_im2col_hidden,
    check_im2col,
    check_im2col_hidden,
)
from .pooling import (
    check_max_pool_backward_naive,
    check_max_pool_backward_naive_hidden,
    check_max_pool_forward_naive,
    check_max_pool_forward_naive_hidden,
)
from .small_cnn import (
    check_cnn_accuracy,
    check_cnn_accuracy_hidden,
    check_small_cnn,
    check_small_cnn_hidden,
)
from .vgg import (
    check_build_vgg,
    check_build_vgg_hidden,
    check_vgg_accuracy,
    check_vgg_accuracy_hidden,
)

__all__ = [
    "check_build_vgg",
    "check_build_vgg_hidden",
    "check_cnn_accuracy",
    "check_cnn_accuracy_hidden",
    "check_col2im",
    "check_col2im_hidden",
    "check_conv_backward_im2col",
    "check_conv_backward_im2col_hidden",
    "check_conv_backward_naive",
    "check_conv_backward_naive_hidden",
    "check_conv_forward_im2col",
    "check_conv_forward_im2col_hidden",
    "check_conv_forward_naive",
    "check_conv_forward_naive_hidden",
    "check_im2col",
    "check_im2col_hidden",
    "check_max_pool_backward_naive",
    "check_max_pool_backward_naive_hidden",
    "check_max_pool_forward_naive",
    "check_max_pool_forward_naive_hidden",
    "check_small_cnn",
    "check_small_cnn_hidden",
    "check_vgg_accuracy",
    "check_vgg_accuracy_hidden",
]

seal(__name__)
