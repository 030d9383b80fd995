"""Implementations of 01_tf_basics' four functions: correct ones and known-wrong ones.

``CORRECT[task]``: alternative correct implementations every check of that task must accept.
``WRONG``: name -> (task, implementation, regex the failure message must match, checks that
must reject it). Most wrong entries fail both the visible and the hidden check; a few only
show on the hidden inputs (a hard-coded axis that works for 2-D input only).

What TensorFlow does with the naive sigmoid ``1 / (1 + exp(-x))`` (float32, x <= -89;
float64, x <= -710): ``exp(-x)`` overflows to inf SILENTLY (no warning, unlike NumPy's
RuntimeWarning), ``1 / (1 + inf)`` is 0, which is also what ``tf.nn.sigmoid`` returns, so
the forward values pass; the GradientTape gradient is ``inf / inf = NaN``. The checks
therefore diagnose it through the gradient at ±1000 (see ``naive_sigmoid``).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
import tensorflow as tf2  # an alias of the whole module
from tensorflow import math as tfm  # a submodule alias
from tensorflow import nn as tfnn

# ======================================================================================
# softmax(x): over the last axis
# ======================================================================================


def softmax_reference(x):
    z = x - tf.reduce_max(x, axis=-1, keepdims=True)
    e = tf.exp(z)
    return e / tf.reduce_sum(e, axis=-1, keepdims=True)


def softmax_stop_gradient_max(x):
    m = tf.stop_gradient(tf.reduce_max(x, axis=-1, keepdims=True))
    e = tf.math.exp(x - m)
    return e / tf.math.reduce_sum(e, axis=-1, keepdims=True)


def softmax_via_logsumexp(x):
    m = tf.reduce_max(x, axis=-1, keepdims=True)
    lse = m + tf.math.log(tf.reduce_sum(tf.exp(x - m), axis=-1, keepdims=True))
    return tf.exp(x - lse)


def softmax_expand_dims(x):
    m = tf.expand_dims(tf.reduce_max(x, axis=-1), -1)
    e = tf.exp(x - m)
    return e / tf.expand_dims(tf.reduce_sum(e, axis=-1), -1)


@tf.function
def softmax_tf_function(x):
    e = tf.exp(x - tf.reduce_max(x, axis=-1, keepdims=True))
    return e / tf.reduce_sum(e, axis=-1, keepdims=True)


def softmax_no_max(x):
    e = tf.exp(x)
    return e / tf.reduce_sum(e, axis=-1, keepdims=True)


def softmax_axis0(x):
    e = tf.exp(x - tf.reduce_max(x, axis=0, keepdims=True))
    return e / tf.reduce_sum(e, axis=0, keepdims=True)


def softmax_axis1(x):
    e = tf.exp(x - tf.reduce_max(x, axis=1, keepdims=True))
    return e / tf.reduce_sum(e, axis=1, keepdims=True)


def softmax_global_max(x):
    e = tf.exp(x - tf.reduce_max(x))  # one max for the whole batch
    return e / tf.reduce_sum(e, axis=-1, keepdims=True)


def softmax_whole_tensor(x):
    e = tf.exp(x - tf.reduce_max(x))
    return e / tf.reduce_sum(e)


def softmax_exp_only(x):
    return tf.exp(x - tf.reduce_max(x, axis=-1, keepdims=True))


def softmax_no_keepdims(x):
    e = tf.exp(x - tf.reduce_max(x, axis=-1))
    return e / tf.reduce_sum(e, axis=-1)


def softmax_alias_module(x):
    return tf2.nn.softmax(x)


def softmax_alias_submodule(x):
    return tfnn.softmax(x)


def softmax_alias_default(x, sm=tf.nn.softmax):
    return sm(x)


def softmax_getattr(x):
    return getattr(tf.nn, "softmax")(x)  # noqa: B009


def softmax_import_inside(x):
    from tensorflow.math import softmax as normalise

    return normalise(x)


def softmax_keras(x):
    return keras.activations.softmax(x)


def softmax_course_utils(x):
    from course_utils.functional import softmax

    return softmax(x)


def softmax_numpy(x):
    a = x.numpy()
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_float32(x):
    x = tf.cast(x, tf.float32)
    e = tf.exp(x - tf.reduce_max(x, axis=-1, keepdims=True))
    return e / tf.reduce_sum(e, axis=-1, keepdims=True)


def softmax_stop_gradient_sum(x):
    e = tf.exp(x - tf.reduce_max(x, axis=-1, keepdims=True))
    return e / tf.stop_gradient(tf.reduce_sum(e, axis=-1, keepdims=True))


def softmax_not_implemented(x):
    raise NotImplementedError()


def softmax_forgot_return(x):
    e = tf.exp(x - tf.reduce_max(x, axis=-1, keepdims=True))
    e / tf.reduce_sum(e, axis=-1, keepdims=True)


_VISIBLE_SOFTMAX = np.exp(
    np.array([[1.0, 2.0, 3.0, 4.0], [-1.5, 0.5, 2.5, -0.5], [3.0, 3.0, -2.0, 1.0]])
)
_VISIBLE_SOFTMAX /= _VISIBLE_SOFTMAX.sum(axis=1, keepdims=True)


def softmax_hard_coded(x):
    return tf.constant(_VISIBLE_SOFTMAX, dtype=x.dtype) + 0 * x


# ======================================================================================
# sigmoid(x): elementwise
# ======================================================================================


def sigmoid_reference(x):
    neg_abs = tf.where(x >= 0, -x, x)
    e = tf.exp(neg_abs)
    return tf.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_abs(x):
    e = tf.exp(-tf.abs(x))
    return tf.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_tanh(x):
    return 0.5 * (1 + tf.tanh(0.5 * x))


def sigmoid_clipped_exponent(x):
    e = tf.exp(-tf.abs(x))
    positive = tf.cast(x >= 0, x.dtype)
    return positive / (1 + e) + (1 - positive) * e / (1 + e)


def sigmoid_cast_constants(x):
    one = tf.cast(1, x.dtype)
    e = tf.math.exp(-tf.abs(x))
    return tf.where(x >= 0, one / (one + e), e / (one + e))


def sigmoid_float32_constant(x):
    one = tf.constant(1.0)  # float32: float64 inputs cannot be mixed with it
    e = tf.exp(-tf.abs(x))
    return tf.where(x >= 0, one / (one + e), e / (one + e))


def naive_sigmoid(x):
    return 1 / (1 + tf.exp(-x))


def naive_sigmoid_exp_ratio(x):
    return tf.exp(x) / (1 + tf.exp(x))


def sigmoid_where_both_naive(x):
    return tf.where(x >= 0, 1 / (1 + tf.exp(-x)), tf.exp(x) / (1 + tf.exp(x)))


def sigmoid_sign_flipped(x):
    e = tf.exp(-tf.abs(x))
    return tf.where(x >= 0, e / (1 + e), 1 / (1 + e))


def sigmoid_tanh_wrong(x):
    return tf.tanh(x)


def sigmoid_softmax(x):
    e = tf.exp(x - tf.reduce_max(x, axis=-1, keepdims=True))
    return e / tf.reduce_sum(e, axis=-1, keepdims=True)


def sigmoid_alias_submodule(x):
    return tfm.sigmoid(x)


def sigmoid_alias_toplevel(x):
    return tf.sigmoid(x)


def sigmoid_keras_ops(x):
    return keras.ops.sigmoid(x)


def sigmoid_numpy(x):
    a = x.numpy()
    return np.where(
        a >= 0, 1 / (1 + np.exp(-np.abs(a))), np.exp(-np.abs(a)) / (1 + np.exp(-np.abs(a)))
    )


# ======================================================================================
# softmax_ce(logits, labels): one-hot labels, mean over the batch
# ======================================================================================


def _log_softmax(x):
    z = x - tf.reduce_max(x, axis=-1, keepdims=True)
    return z - tf.math.log(tf.reduce_sum(tf.exp(z), axis=-1, keepdims=True))


def softmax_ce_reference(logits, labels):
    m = tf.reduce_max(logits, axis=-1)
    lse = m + tf.math.log(tf.reduce_sum(tf.exp(logits - m[:, None]), axis=-1))
    return tf.reduce_mean(lse - tf.reduce_sum(labels * logits, axis=-1))


def softmax_ce_log_softmax_helper(logits, labels):
    return tf.reduce_mean(-tf.reduce_sum(labels * _log_softmax(logits), axis=-1))


def softmax_ce_gather(logits, labels):
    classes = tf.argmax(labels, axis=-1)
    picked = tf.gather(_log_softmax(logits), classes, batch_dims=1)
    return -tf.reduce_mean(picked)


def softmax_ce_sum_over_n(logits, labels):
    per_example = -tf.reduce_sum(labels * _log_softmax(logits), axis=-1)
    return tf.reduce_sum(per_example) / tf.cast(tf.shape(logits)[0], logits.dtype)


def softmax_ce_log_of_softmax(logits, labels):
    return tf.reduce_mean(-tf.reduce_sum(labels * tf.math.log(softmax_reference(logits)), axis=-1))


def softmax_ce_log_eps(logits, labels):
    p = softmax_reference(logits)
    return tf.reduce_mean(-tf.reduce_sum(labels * tf.math.log(p + 1e-8), axis=-1))


def softmax_ce_clip(logits, labels):
    p = tf.clip_by_value(softmax_reference(logits), 1e-7, 1 - 1e-7)
    return tf.reduce_mean(-tf.reduce_sum(labels * tf.math.log(p), axis=-1))


def softmax_ce_summed(logits, labels):
    return tf.reduce_sum(-tf.reduce_sum(labels * _log_softmax(logits), axis=-1))


def softmax_ce_mean_all(logits, labels):
    return tf.reduce_mean(-labels * _log_softmax(logits))


def softmax_ce_per_example(logits, labels):
    return -tf.reduce_sum(labels * _log_softmax(logits), axis=-1)


def softmax_ce_swapped(labels, logits):  # the order of tf.nn.softmax_cross_entropy_with_logits
    return tf.reduce_mean(-tf.reduce_sum(labels * _log_softmax(logits), axis=-1))


def softmax_ce_sign(logits, labels):
    return tf.reduce_mean(tf.reduce_sum(labels * _log_softmax(logits), axis=-1))


def softmax_ce_no_max(logits, labels):
    lse = tf.math.log(tf.reduce_sum(tf.exp(logits), axis=-1))
    return tf.reduce_mean(lse - tf.reduce_sum(labels * logits, axis=-1))


def softmax_ce_log2(logits, labels):
    per_example = -tf.reduce_sum(labels * _log_softmax(logits), axis=-1)
    return tf.reduce_mean(per_example) / tf.math.log(tf.constant(2.0, logits.dtype))


def softmax_ce_builtin_alias(logits, labels):
    loss = tfnn.softmax_cross_entropy_with_logits
    return tf.reduce_mean(loss(labels=labels, logits=logits))


def softmax_ce_keras(logits, labels):
    return tf.reduce_mean(keras.losses.categorical_crossentropy(labels, logits, from_logits=True))


def softmax_ce_reduce_logsumexp(logits, labels):
    lse = tf.reduce_logsumexp(logits, axis=-1)
    return tf.reduce_mean(lse - tf.reduce_sum(labels * logits, axis=-1))


def softmax_ce_python_float(logits, labels):
    return float(tf.reduce_mean(-tf.reduce_sum(labels * _log_softmax(logits), axis=-1)))


# ======================================================================================
# sigmoid_ce(logits, labels): binary labels, mean over ALL elements
# ======================================================================================


def sigmoid_ce_reference(logits, labels):
    x, z = logits, labels
    return tf.reduce_mean(tf.maximum(x, 0) - x * z + tf.math.log1p(tf.exp(-tf.abs(x))))


def sigmoid_ce_relu(logits, labels):
    x, z = logits, labels
    return tf.reduce_mean(tf.nn.relu(x) - x * z + tf.math.log(1 + tf.exp(-tf.abs(x))))


def sigmoid_ce_where(logits, labels):  # the way tf.nn.sigmoid_cross_entropy_with_logits does it
    x, z = logits, labels
    positive = x >= 0
    relu_x = tf.where(positive, x, tf.zeros_like(x))
    neg_abs = tf.where(positive, -x, x)
    return tf.reduce_mean(relu_x - x * z + tf.math.log1p(tf.exp(neg_abs)))


def _softplus(x):
    return tf.maximum(x, 0) + tf.math.log1p(tf.exp(-tf.abs(x)))


def sigmoid_ce_softplus_helper(logits, labels):
    x, z = logits, labels
    return tf.reduce_mean(z * _softplus(-x) + (1 - z) * _softplus(x))


def sigmoid_ce_sum_over_size(logits, labels):
    x, z = logits, labels
    total = tf.reduce_sum(tf.maximum(x, 0) - x * z + tf.math.log1p(tf.exp(-tf.abs(x))))
    return total / tf.cast(tf.size(x), x.dtype)


def sigmoid_ce_from_probs(logits, labels):
    p = sigmoid_reference(logits)
    return tf.reduce_mean(-(labels * tf.math.log(p) + (1 - labels) * tf.math.log(1 - p)))


def sigmoid_ce_from_probs_eps(logits, labels):
    p = sigmoid_reference(logits)
    eps = 1e-8
    return tf.reduce_mean(
        -(labels * tf.math.log(p + eps) + (1 - labels) * tf.math.log(1 - p + eps))
    )


def sigmoid_ce_summed(logits, labels):
    x, z = logits, labels
    return tf.reduce_sum(tf.maximum(x, 0) - x * z + tf.math.log1p(tf.exp(-tf.abs(x))))


def sigmoid_ce_sum_last_axis(logits, labels):
    x, z = logits, labels
    per = tf.maximum(x, 0) - x * z + tf.math.log1p(tf.exp(-tf.abs(x)))
    return tf.reduce_mean(tf.reduce_sum(per, axis=-1))


def sigmoid_ce_per_element(logits, labels):
    x, z = logits, labels
    return tf.maximum(x, 0) - x * z + tf.math.log1p(tf.exp(-tf.abs(x)))


def sigmoid_ce_swapped(labels, logits):
    x, z = logits, labels
    return tf.reduce_mean(tf.maximum(x, 0) - x * z + tf.math.log1p(tf.exp(-tf.abs(x))))


def sigmoid_ce_textbook(logits, labels):  # right for moderate x, exp(-x) = inf for x << 0
    x, z = logits, labels
    return tf.reduce_mean(x - x * z + tf.math.log(1 + tf.exp(-x)))


def sigmoid_ce_missing_log(logits, labels):
    x, z = logits, labels
    return tf.reduce_mean(tf.maximum(x, 0) - x * z)


def sigmoid_ce_sign(logits, labels):
    return -sigmoid_ce_reference(logits, labels)


def sigmoid_ce_builtin_alias(logits, labels):
    return tf.reduce_mean(tf2.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


def sigmoid_ce_softplus(logits, labels):
    x, z = logits, labels
    return tf.reduce_mean(tf.math.softplus(x) - x * z)


def sigmoid_ce_log_sigmoid(logits, labels):
    x, z = logits, labels
    return tf.reduce_mean(-(z * tfm.log_sigmoid(x) + (1 - z) * tfm.log_sigmoid(-x)))


# ======================================================================================
# The catalogue
# ======================================================================================
CORRECT = {
    "softmax": [
        softmax_reference,
        softmax_stop_gradient_max,
        softmax_via_logsumexp,
        softmax_expand_dims,
        softmax_tf_function,
    ],
    "sigmoid": [
        sigmoid_reference,
        sigmoid_abs,
        sigmoid_tanh,
        sigmoid_clipped_exponent,
        sigmoid_cast_constants,
    ],
    "softmax_ce": [
        softmax_ce_reference,
        softmax_ce_log_softmax_helper,
        softmax_ce_gather,
        softmax_ce_sum_over_n,
    ],
    "sigmoid_ce": [
        sigmoid_ce_reference,
        sigmoid_ce_relu,
        sigmoid_ce_where,
        sigmoid_ce_softplus_helper,
        sigmoid_ce_sum_over_size,
    ],
}

_FORBIDDEN = r"must be written with basic TensorFlow operations"
_UNSTABLE = r"not numerically stable"
_NO_GRADIENT = r"finds no gradient .* leaves TensorFlow"
_PROBS = r"computed from probabilities with log\((p \+ |clip\(p, )1e-08"


def _both(task: str) -> tuple[str, str]:
    return (f"check_{task}", f"check_{task}_hidden")


WRONG = {
    # --- softmax -----------------------------------------------------------------------
    "softmax_no_max": (
        "softmax",
        softmax_no_max,
        _UNSTABLE + r"[\s\S]*Subtract the max",
        _both("softmax"),
    ),
    "softmax_axis0": ("softmax", softmax_axis0, r"normalised over axis 0", _both("softmax")),
    "softmax_axis1_hard_coded": (
        "softmax",
        softmax_axis1,
        r"axis that does not exist .* axis=-1",
        ("check_softmax_hidden",),
    ),
    "softmax_global_max": (
        "softmax",
        softmax_global_max,
        _UNSTABLE + r"[\s\S]*global max is not enough",
        _both("softmax"),
    ),
    "softmax_whole_tensor": (
        "softmax",
        softmax_whole_tensor,
        r"over the whole tensor",
        _both("softmax"),
    ),
    "softmax_exp_only": ("softmax", softmax_exp_only, r"sum to 1", _both("softmax")),
    "softmax_no_keepdims": ("softmax", softmax_no_keepdims, r"keepdims", _both("softmax")),
    "softmax_alias_module": (
        "softmax",
        softmax_alias_module,
        _FORBIDDEN + r"[\s\S]*`tf2\.nn\.softmax` is",
        _both("softmax"),
    ),
    "softmax_alias_submodule": (
        "softmax",
        softmax_alias_submodule,
        _FORBIDDEN + r"[\s\S]*`tfnn\.softmax` is",
        _both("softmax"),
    ),
    "softmax_alias_default": (
        "softmax",
        softmax_alias_default,
        _FORBIDDEN + r"[\s\S]*default argument",
        _both("softmax"),
    ),
    "softmax_getattr": ("softmax", softmax_getattr, _FORBIDDEN, _both("softmax")),
    "softmax_import_inside": ("softmax", softmax_import_inside, _FORBIDDEN, _both("softmax")),
    "softmax_keras": ("softmax", softmax_keras, _FORBIDDEN + r"[\s\S]*keras", _both("softmax")),
    "softmax_course_utils": (
        "softmax",
        softmax_course_utils,
        _FORBIDDEN + r"[\s\S]*course_utils",
        _both("softmax"),
    ),
    "softmax_numpy": ("softmax", softmax_numpy, _NO_GRADIENT, _both("softmax")),
    "softmax_float32": (
        "softmax",
        softmax_float32,
        r"the input is float64, so the result must be float64",
        _both("softmax"),
    ),
    "softmax_stop_gradient_sum": (
        "softmax",
        softmax_stop_gradient_sum,
        r"gradient .* is wrong|entries differ[\s\S]*stop_gradient",
        _both("softmax"),
    ),
    "softmax_not_implemented": (
        "softmax",
        softmax_not_implemented,
        r"not implemented yet",
        _both("softmax"),
    ),
    "softmax_forgot_return": (
        "softmax",
        softmax_forgot_return,
        r"is None: did you forget to `return`",
        _both("softmax"),
    ),
    "softmax_hard_coded": (
        "softmax",
        softmax_hard_coded,
        r"gradient|differ|shape",
        _both("softmax"),
    ),
    # --- sigmoid -----------------------------------------------------------------------
    "naive_sigmoid": (
        "sigmoid",
        naive_sigmoid,
        r"gradient dx .* contains NaN[\s\S]*forward values are right[\s\S]*inf / inf = NaN",
        _both("sigmoid"),
    ),
    "naive_sigmoid_exp_ratio": ("sigmoid", naive_sigmoid_exp_ratio, _UNSTABLE, _both("sigmoid")),
    "sigmoid_where_both_naive": (
        "sigmoid",
        sigmoid_where_both_naive,
        r"contains NaN[\s\S]*branch NOT taken",
        _both("sigmoid"),
    ),
    "sigmoid_sign_flipped": ("sigmoid", sigmoid_sign_flipped, r"sigmoid\(-x\)", _both("sigmoid")),
    "sigmoid_tanh_wrong": ("sigmoid", sigmoid_tanh_wrong, r"that is tanh\(x\)", _both("sigmoid")),
    "sigmoid_softmax": (
        "sigmoid",
        sigmoid_softmax,
        r"softmax over the last axis",
        _both("sigmoid"),
    ),
    "sigmoid_alias_submodule": (
        "sigmoid",
        sigmoid_alias_submodule,
        _FORBIDDEN + r"[\s\S]*`tfm\.sigmoid` is",
        _both("sigmoid"),
    ),
    "sigmoid_alias_toplevel": ("sigmoid", sigmoid_alias_toplevel, _FORBIDDEN, _both("sigmoid")),
    "sigmoid_keras_ops": ("sigmoid", sigmoid_keras_ops, _FORBIDDEN, _both("sigmoid")),
    "sigmoid_float32_constant": (
        "sigmoid",
        sigmoid_float32_constant,
        r"InvalidArgumentError[\s\S]*TensorFlow does not mix dtypes",
        _both("sigmoid"),
    ),
    "sigmoid_numpy": ("sigmoid", sigmoid_numpy, _NO_GRADIENT, _both("sigmoid")),
    # --- softmax_ce --------------------------------------------------------------------
    "softmax_ce_log_of_softmax": (
        "softmax_ce",
        softmax_ce_log_of_softmax,
        _UNSTABLE + r"[\s\S]*log\(0\)",
        _both("softmax_ce"),
    ),
    "softmax_ce_log_eps": ("softmax_ce", softmax_ce_log_eps, _PROBS, _both("softmax_ce")),
    "softmax_ce_clip": (
        "softmax_ce",
        softmax_ce_clip,
        r"computed from probabilities with log\(clip\(p, 1e-07",
        _both("softmax_ce"),
    ),
    "softmax_ce_summed": (
        "softmax_ce",
        softmax_ce_summed,
        r"you summed the per-example losses",
        _both("softmax_ce"),
    ),
    "softmax_ce_mean_all": (
        "softmax_ce",
        softmax_ce_mean_all,
        r"averaged over all N\*C",
        _both("softmax_ce"),
    ),
    "softmax_ce_per_example": (
        "softmax_ce",
        softmax_ce_per_example,
        r"one loss per example",
        _both("softmax_ce"),
    ),
    "softmax_ce_swapped": (
        "softmax_ce",
        softmax_ce_swapped,
        r"labels and logits are swapped",
        _both("softmax_ce"),
    ),
    "softmax_ce_sign": ("softmax_ce", softmax_ce_sign, r"sign is flipped", _both("softmax_ce")),
    "softmax_ce_no_max": ("softmax_ce", softmax_ce_no_max, _UNSTABLE, _both("softmax_ce")),
    "softmax_ce_log2": ("softmax_ce", softmax_ce_log2, r"in bits", _both("softmax_ce")),
    "softmax_ce_builtin_alias": (
        "softmax_ce",
        softmax_ce_builtin_alias,
        _FORBIDDEN + r"[\s\S]*`tfnn\.softmax_cross_entropy_with_logits` is",
        _both("softmax_ce"),
    ),
    "softmax_ce_keras": (
        "softmax_ce",
        softmax_ce_keras,
        _FORBIDDEN + r"[\s\S]*keras\.losses",
        _both("softmax_ce"),
    ),
    "softmax_ce_reduce_logsumexp": (
        "softmax_ce",
        softmax_ce_reduce_logsumexp,
        _FORBIDDEN + r"[\s\S]*reduce_logsumexp",
        _both("softmax_ce"),
    ),
    "softmax_ce_python_float": (
        "softmax_ce",
        softmax_ce_python_float,
        r"must be float32 too|no gradient",
        _both("softmax_ce"),
    ),
    # --- sigmoid_ce --------------------------------------------------------------------
    "sigmoid_ce_from_probs": (
        "sigmoid_ce",
        sigmoid_ce_from_probs,
        _UNSTABLE + r"[\s\S]*log\(0\)",
        _both("sigmoid_ce"),
    ),
    "sigmoid_ce_from_probs_eps": (
        "sigmoid_ce",
        sigmoid_ce_from_probs_eps,
        _PROBS,
        _both("sigmoid_ce"),
    ),
    "sigmoid_ce_summed": (
        "sigmoid_ce",
        sigmoid_ce_summed,
        r"you summed over all \d+ elements",
        _both("sigmoid_ce"),
    ),
    "sigmoid_ce_sum_last_axis": (
        "sigmoid_ce",
        sigmoid_ce_sum_last_axis,
        r"summed over (the last axis and averaged over the rest|all 6 elements)",
        _both("sigmoid_ce"),
    ),
    "sigmoid_ce_per_element": (
        "sigmoid_ce",
        sigmoid_ce_per_element,
        r"expected a single number \(shape \(\)\)",
        _both("sigmoid_ce"),
    ),
    "sigmoid_ce_swapped": (
        "sigmoid_ce",
        sigmoid_ce_swapped,
        r"labels and logits are swapped",
        _both("sigmoid_ce"),
    ),
    "sigmoid_ce_textbook": ("sigmoid_ce", sigmoid_ce_textbook, _UNSTABLE, _both("sigmoid_ce")),
    "sigmoid_ce_missing_log": (
        "sigmoid_ce",
        sigmoid_ce_missing_log,
        r"log\(1 \+ exp\(-\|x\|\)\) term is missing",
        _both("sigmoid_ce"),
    ),
    "sigmoid_ce_sign": ("sigmoid_ce", sigmoid_ce_sign, r"sign is flipped", _both("sigmoid_ce")),
    "sigmoid_ce_builtin_alias": (
        "sigmoid_ce",
        sigmoid_ce_builtin_alias,
        _FORBIDDEN,
        _both("sigmoid_ce"),
    ),
    "sigmoid_ce_softplus": (
        "sigmoid_ce",
        sigmoid_ce_softplus,
        _FORBIDDEN + r"[\s\S]*softplus",
        _both("sigmoid_ce"),
    ),
    "sigmoid_ce_log_sigmoid": (
        "sigmoid_ce",
        sigmoid_ce_log_sigmoid,
        _FORBIDDEN + r"[\s\S]*`tfm\.log_sigmoid` is",
        _both("sigmoid_ce"),
    ),
}
