"""Checks for assignment 05_mnist: a multilayer perceptron from scratch on the full MNIST,
then the same model in Keras. One module per task (the checks of one module would pass
800 lines):

- ``loader``: ``DataLoader(X, y, batch_size, shuffle=True, seed=None, drop_last=False)``;
- ``initializers``: ``he_normal(fan_in, fan_out, rng)``, ``xavier_uniform(...)``;
- ``linear``: ``Linear(in_features, out_features, rng=None, init=None, dtype=np.float64)``;
- ``loss``: ``softmax_cross_entropy(logits, y) -> (loss, dlogits)``;
- ``adam``: ``Adam(params, lr, beta1, beta2, eps).step(grads)`` (Keras' formula);
- ``train``: ``train_mlp(...) -> (layers, history)`` graded with the reference Tasks 1-5 in
  place, and the trained network (>= 98 % within 10 epochs) graded from its weights;
- ``keras_mlp``: ``build_keras_mlp(...)`` and the trained Keras model.

Each task's check grades that task alone: a later task that uses the student's earlier
answers runs with the course's reference answers (``course_utils.grading.stand_ins``) in
their place; the trained network's accuracy, which is the composition, names the earlier
tasks at fault when it fails.
"""

from course_utils.grading import seal

from .adam import check_adam, check_adam_hidden
from .initializers import check_initializers, check_initializers_hidden
from .keras_mlp import (
    check_build_keras_mlp,
    check_build_keras_mlp_hidden,
    check_keras_accuracy,
    check_keras_accuracy_hidden,
)
from .linear import check_linear, check_linear_hidden
from .loader import check_data_loader, check_data_loader_hidden
from .loss import check_softmax_cross_entropy, check_softmax_cross_entropy_hidden
from .train import (
    check_mlp_accuracy,
    check_mlp_accuracy_hidden,
    check_train_mlp,
    check_train_mlp_hidden,
)

__all__ = [
    "check_adam",
    "check_adam_hidden",
    "check_build_keras_mlp",
    "check_build_keras_mlp_hidden",
    "check_data_loader",
    "check_data_loader_hidden",
    "check_initializers",
    "check_initializers_hidden",
    "check_keras_accuracy",
    "check_keras_accuracy_hidden",
    "check_linear",
    "check_linear_hidden",
    "check_mlp_accuracy",
    "check_mlp_accuracy_hidden",
    "check_softmax_cross_entropy",
    "check_softmax_cross_entropy_hidden",
    "check_train_mlp",
    "check_train_mlp_hidden",
]

seal(__name__)
