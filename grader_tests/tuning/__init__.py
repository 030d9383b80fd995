"""Checks for assignment 07_tuning. One module per task.

optimization.ipynb:

- ``standardize``: ``standardize(train, *others)``, per-feature statistics of train only;
- ``signal_stats``: the forward/backward std per layer of a bias-free MLP;
- ``optimizers``: ``sgd_momentum``, ``nesterov``, ``rmsprop``, ``adam`` as update rules
  ``(w, dw, state=None, **hyper) -> (w_new, state)``, against ``keras.optimizers``;
- ``schedules``: ``step_decay``, ``exponential_decay``, ``polynomial_decay``,
  ``cosine_decay`` (factories of ``schedule(step) -> lr``), against
  ``keras.optimizers.schedules``;
- ``early_stopping``: ``EarlyStopping(patience, min_delta=0.0, restore_best=True)`` with
  ``update(epoch, val_loss, weights) -> bool``, on synthetic validation curves.

regularization.ipynb:

- ``l2``: ``add_l2(layers, lam) -> penalty``, weight decay on ``course_utils`` layers, against
  numerical gradients of data loss + penalty;
- ``dropout``: ``dropout_forward(x, p, training, rng)`` / ``dropout_backward(dout, cache)``,
  inverted dropout with the mask of ``rng.random(x.shape) >= p``;
- ``batchnorm``: ``batchnorm_forward(x, gamma, beta, bn_param)`` / ``batchnorm_backward``,
  against numerical gradients and Keras' running statistics;
- ``augmentation``: ``add_noise``, ``random_shift``, ``random_stretch``,
  ``random_rotation``, ``augment``, measured on test images made for each transform;
- ``class_weights``: ``class_weights`` (sklearn's "balanced") and
  ``weighted_cross_entropy`` (Keras' weighted sum_over_batch_size), numerical gradients;
- ``fine_tuning``: ``fine_tune(model, X, y, epochs, lr, ...)`` on a pretrained Keras MLP
  built where the student's code runs;
- ``best_recipe``: the best-recipe Keras MLP (no convolutions) reaches 98.5 % on MNIST.
"""

from course_utils.grading import seal

from .augmentation import check_augmentation, check_augmentation_hidden
from .batchnorm import check_batchnorm, check_batchnorm_hidden
from .best_recipe import check_best_recipe, check_best_recipe_hidden
from .class_weights import (
    check_class_weights,
    check_class_weights_hidden,
    check_weighted_cross_entropy,
    check_weighted_cross_entropy_hidden,
)
from .dropout import check_dropout, check_dropout_hidden
from .early_stopping import check_early_stopping, check_early_stopping_hidden
from .fine_tuning import check_fine_tune, check_fine_tune_hidden
from .l2 import check_add_l2, check_add_l2_hidden
from .optimizers import (
    check_adam,
    check_adam_hidden,
    check_nesterov,
    check_nesterov_hidden,
    check_rmsprop,
    check_rmsprop_hidden,
    check_sgd_momentum,
    check_sgd_momentum_hidden,
)
from .schedules import (
    check_cosine_decay,
    check_cosine_decay_hidden,
    check_exponential_decay,
    check_exponential_decay_hidden,
    check_polynomial_decay,
    check_polynomial_decay_hidden,
    check_step_decay,
    check_step_decay_hidden,
)
from .signal_stats import check_signal_stats, check_signal_stats_hidden
from .standardize import check_standardize, check_standardize_hidden

__all__ = [
    "check_adam",
    "check_adam_hidden",
    "check_add_l2",
    "check_add_l2_hidden",
    "check_augmentation",
    "check_augmentation_hidden",
    "check_batchnorm",
    "check_batchnorm_hidden",
    "check_best_recipe",
    "check_best_recipe_hidden",
    "check_class_weights",
    "check_class_weights_hidden",
    "check_cosine_decay",
    "check_cosine_decay_hidden",
    "check_dropout",
    "check_dropout_hidden",
    "check_early_stopping",
    "check_early_stopping_hidden",
    "check_exponential_decay",
    "check_exponential_decay_hidden",
    "check_fine_tune",
    "check_fine_tune_hidden",
    "check_nesterov",
    "check_nesterov_hidden",
    "check_polynomial_decay",
    "check_polynomial_decay_hidden",
    "check_rmsprop",
    "check_rmsprop_hidden",
    "check_sgd_momentum",
    "check_sgd_momentum_hidden",
    "check_signal_stats",
    "check_signal_stats_hidden",
    "check_standardize",
    "check_standardize_hidden",
    "check_step_decay",
    "check_step_decay_hidden",
    "check_weighted_cross_entropy",
    "check_weighted_cross_entropy_hidden",
]

seal(__name__)
