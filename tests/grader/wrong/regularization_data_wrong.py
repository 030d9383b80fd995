"""Implementations of 07_tuning's tasks 9-11 (regularization.ipynb: augmentation, class
weights and a class-weighted cross-entropy, fine-tuning the last layer): correct ones and
known-wrong ones.

``*_CORRECT`` lists alternative correct implementations every check must accept (the model
answer first); ``*_WRONG`` maps a name to (implementation, regex the failure message must
match, checks that must reject it). For the augmentation task an implementation is the
tuple of its five functions (add_noise, random_shift, random_stretch, random_rotation,
augment): a wrong entry replaces one of them. The mistakes are students' own: np.roll as a
shift, one draw for the batch, rng.integers' exclusive high, a transpose as a rotation,
radians for degrees, reshape=True, a zoom about the corner, ndimage.zoom's new shape, noise
not clipped or rescaled, std as the variance, float64 out, X changed in place, the global
np.random, labels shuffled, an argument of augment ignored; counts instead of inverse
counts, weights normalised, a weighted mean, weights in the gradient forgotten; nothing or
everything frozen, BatchNormalization left trainable, a new model trained, epochs or lr
ignored.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

AUG_BOTH = ("check_augmentation", "check_augmentation_hidden")
C = 13.5  # the image centre (pixel centres 0..27)


# =========================================================================================
# Task 9: augmentation
# =========================================================================================
def add_noise(X, std, rng):
    noisy = X + rng.normal(0.0, std, size=X.shape)
    return np.clip(noisy, 0.0, 1.0).astype(X.dtype)


def random_shift(X, max_shift, rng):
    imgs = X.reshape(-1, 28, 28)
    out = np.zeros_like(imgs)
    shifts = rng.integers(-max_shift, max_shift + 1, size=(len(imgs), 2))
    for i, (dy, dx) in enumerate(shifts):
        src = imgs[i, max(0, -dy) : 28 - max(0, dy), max(0, -dx) : 28 - max(0, dx)]
        out[i, max(0, dy) : max(0, dy) + src.shape[0], max(0, dx) : max(0, dx) + src.shape[1]] = src
    return out.reshape(X.shape)


def random_stretch(X, max_scale, rng):
    imgs = X.reshape(-1, 28, 28)
    out = np.empty_like(imgs)
    for i, img in enumerate(imgs):
        s = rng.uniform(1 - max_scale, 1 + max_scale, size=2)
        out[i] = ndimage.affine_transform(img, 1 / s, offset=C - C / s, order=1,
                                          mode="constant", cval=0.0)  # fmt: skip
    return out.reshape(X.shape)


def random_rotation(X, max_degrees, rng):
    imgs = X.reshape(-1, 28, 28)
    angles = rng.uniform(-max_degrees, max_degrees, size=len(imgs))
    out = np.empty_like(imgs)
    for i, (img, angle) in enumerate(zip(imgs, angles, strict=True)):
        out[i] = ndimage.rotate(img, angle, reshape=False, order=1, mode="constant", cval=0.0)
    return out.reshape(X.shape)


def augment(X, y, rng, noise_std=0.0, max_shift=0, max_scale=0.0, max_degrees=0.0):
    X = random_stretch(X, max_scale, rng)
    X = random_rotation(X, max_degrees, rng)
    X = random_shift(X, max_shift, rng)
    X = add_noise(X, noise_std, rng)
    return X, y.copy()


# --- correct alternatives: vectorised, other conventions ---
def add_noise_where(X, std, rng):
    noisy = X.astype(np.float64) + std * rng.standard_normal(X.shape)
    noisy = np.where(noisy < 0, 0.0, np.where(noisy > 1, 1.0, noisy))
    return noisy.astype(X.dtype)


def random_shift_pad(X, max_shift, rng):
    """Pad by max_shift, then cut a 28x28 window per image."""
    m = max_shift
    imgs = X.reshape(-1, 28, 28)
    padded = np.pad(imgs, ((0, 0), (m, m), (m, m)))
    out = np.empty_like(imgs)
    for i in range(len(imgs)):
        dy, dx = rng.integers(-m, m + 1), rng.integers(-m, m + 1)
        out[i] = padded[i, m - dy : m - dy + 28, m - dx : m - dx + 28]
    return out.reshape(X.shape)


def random_stretch_matrix(X, max_scale, rng):
    """The factors passed as the matrix itself (output -> input): the inverse zoom, also
    uniform around 1; accepted."""
    imgs = X.reshape(-1, 28, 28)
    factors = rng.uniform(1 - max_scale, 1 + max_scale, size=(len(imgs), 2))
    out = np.empty_like(imgs)
    centre = np.array([C, C])
    for i, (img, s) in enumerate(zip(imgs, factors, strict=True)):
        matrix = np.diag(s)
        out[i] = ndimage.affine_transform(img, matrix, offset=centre - matrix @ centre, order=1)
    return out.reshape(X.shape)


def random_rotation_affine(X, max_degrees, rng):
    """Its own rotation matrix (the other direction), about the centre."""
    imgs = X.reshape(-1, 28, 28)
    out = np.empty_like(imgs)
    centre = np.array([C, C])
    for i, img in enumerate(imgs):
        t = np.deg2rad(rng.uniform(-max_degrees, max_degrees))
        rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
        out[i] = ndimage.affine_transform(img, rot, offset=centre - rot @ centre, order=1)
    return out.reshape(X.shape)


def augment_skipping(X, y, rng, noise_std=0.0, max_shift=0, max_scale=0.0, max_degrees=0.0):
    """Skips the transforms whose strength is 0; returns y itself."""
    out = X
    if max_scale:
        out = random_stretch_matrix(out, max_scale, rng)
    if max_degrees:
        out = random_rotation_affine(out, max_degrees, rng)
    if max_shift:
        out = random_shift_pad(out, max_shift, rng)
    if noise_std:
        out = add_noise_where(out, noise_std, rng)
    return out.copy(), y


def add_noise_minmax(X, std, rng):
    noise = rng.normal(size=X.shape) * std
    return np.minimum(np.maximum(X + noise, 0), 1).astype(X.dtype, copy=False)


def random_shift_ndimage(X, max_shift, rng):
    imgs = X.reshape(-1, 28, 28)
    shifts = rng.integers(-max_shift, max_shift, size=(len(imgs), 2), endpoint=True)
    out = np.stack([ndimage.shift(img, s, order=0, mode="constant", cval=0.0)
                    for img, s in zip(imgs, shifts, strict=True)])  # fmt: skip
    return out.reshape(X.shape)


def random_stretch_coords(X, max_scale, rng):
    """map_coordinates on its own grid."""
    imgs = X.reshape(-1, 28, 28)
    yy, xx = np.mgrid[0:28, 0:28].astype(float)
    out = np.empty_like(imgs)
    for i, img in enumerate(imgs):
        sy = rng.uniform(1 - max_scale, 1 + max_scale)
        sx = rng.uniform(1 - max_scale, 1 + max_scale)
        coords = [C + (yy - C) / sy, C + (xx - C) / sx]
        out[i] = ndimage.map_coordinates(img, coords, order=1, cval=0.0)
    return out.reshape(X.shape)


def random_rotation_axes(X, max_degrees, rng):
    imgs = X.reshape(-1, 28, 28)
    out = np.stack([ndimage.rotate(img, rng.uniform(-max_degrees, max_degrees), axes=(1, 0),
                                   reshape=False, order=1) for img in imgs])  # fmt: skip
    return out.reshape(X.shape).astype(X.dtype)


def augment_inline(X, y, rng, noise_std=0.0, max_shift=0, max_scale=0.0, max_degrees=0.0):
    X_aug = random_stretch_coords(X, max_scale, rng)
    X_aug = random_rotation_axes(X_aug, max_degrees, rng)
    X_aug = random_shift_ndimage(X_aug, max_shift, rng)
    return add_noise_minmax(X_aug, noise_std, rng), np.array(y)


_REF = (add_noise, random_shift, random_stretch, random_rotation, augment)
AUGMENTATION_CORRECT = [
    _REF,
    (add_noise_where, random_shift_pad, random_stretch_matrix, random_rotation_affine,
     augment_skipping),
    (add_noise_minmax, random_shift_ndimage, random_stretch_coords, random_rotation_axes,
     augment_inline),
]  # fmt: skip


# --- wrong augmentations ---
def shift_roll(X, max_shift, rng):
    imgs = X.reshape(-1, 28, 28)
    out = np.empty_like(imgs)
    for i in range(len(imgs)):
        dy, dx = rng.integers(-max_shift, max_shift + 1, size=2)
        out[i] = np.roll(imgs[i], (dy, dx), axis=(0, 1))  # wraps around
    return out.reshape(X.shape)


def shift_one_for_all(X, max_shift, rng):
    dy, dx = rng.integers(-max_shift, max_shift + 1, size=2)  # one draw for the batch
    imgs = X.reshape(-1, 28, 28)
    padded = np.pad(imgs, ((0, 0), (max_shift,) * 2, (max_shift,) * 2))
    m = max_shift
    return padded[:, m - dy : m - dy + 28, m - dx : m - dx + 28].reshape(X.shape).copy()


def shift_exclusive_high(X, max_shift, rng):
    imgs = X.reshape(-1, 28, 28)
    m = max_shift
    padded = np.pad(imgs, ((0, 0), (m, m), (m, m)))
    out = np.empty_like(imgs)
    for i in range(len(imgs)):
        dy, dx = rng.integers(-m, m, size=2)  # high is exclusive: +m never drawn
        out[i] = padded[i, m - dy : m - dy + 28, m - dx : m - dx + 28]
    return out.reshape(X.shape)


def shift_same_dy_dx(X, max_shift, rng):
    imgs = X.reshape(-1, 28, 28)
    m = max_shift
    padded = np.pad(imgs, ((0, 0), (m, m), (m, m)))
    out = np.empty_like(imgs)
    for i in range(len(imgs)):
        d = rng.integers(-m, m + 1)  # one draw for both axes
        out[i] = padded[i, m - d : m - d + 28, m - d : m - d + 28]
    return out.reshape(X.shape)


def rotation_transpose(X, max_degrees, rng):
    """Swapped coordinates in a hand-written rotation: a reflection."""
    imgs = X.reshape(-1, 28, 28)
    out = np.empty_like(imgs)
    centre = np.array([C, C])
    for i, img in enumerate(imgs):
        t = np.deg2rad(rng.uniform(-max_degrees, max_degrees))
        rot = np.array([[np.sin(t), np.cos(t)], [np.cos(t), -np.sin(t)]])  # rows swapped
        out[i] = ndimage.affine_transform(img, rot, offset=centre - rot @ centre, order=1)
    return out.reshape(X.shape)


def rotation_radians(X, max_degrees, rng):
    imgs = X.reshape(-1, 28, 28)
    out = np.empty_like(imgs)
    for i, img in enumerate(imgs):
        angle = np.deg2rad(rng.uniform(-max_degrees, max_degrees))  # rotate takes degrees
        out[i] = ndimage.rotate(img, angle, reshape=False, order=1)
    return out.reshape(X.shape)


def rotation_reshape(X, max_degrees, rng):
    imgs = X.reshape(-1, 28, 28)
    out = np.empty_like(imgs)
    for i, img in enumerate(imgs):
        out[i] = ndimage.rotate(img, rng.uniform(-max_degrees, max_degrees), order=1)
    return out.reshape(X.shape)


def rotation_one_angle(X, max_degrees, rng):
    angle = rng.uniform(-max_degrees, max_degrees)
    out = ndimage.rotate(X.reshape(-1, 28, 28), angle, axes=(1, 2), reshape=False, order=1)
    return out.reshape(X.shape)


def rotation_about_corner(X, max_degrees, rng):
    imgs = X.reshape(-1, 28, 28)
    out = np.empty_like(imgs)
    for i, img in enumerate(imgs):
        t = np.deg2rad(rng.uniform(-max_degrees, max_degrees))
        rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
        out[i] = ndimage.affine_transform(img, rot, order=1)  # no offset: about (0, 0)
    return out.reshape(X.shape)


def stretch_corner(X, max_scale, rng):
    imgs = X.reshape(-1, 28, 28)
    out = np.empty_like(imgs)
    for i, img in enumerate(imgs):
        s = rng.uniform(1 - max_scale, 1 + max_scale, size=2)
        out[i] = ndimage.affine_transform(img, 1 / s, order=1)  # about (0, 0)
    return out.reshape(X.shape)


def stretch_zoom(X, max_scale, rng):
    imgs = X.reshape(-1, 28, 28)
    out = np.empty_like(imgs)
    for i, img in enumerate(imgs):
        s = rng.uniform(1 - max_scale, 1 + max_scale, size=2)
        out[i] = ndimage.zoom(img, s, order=1)  # a new shape, neither cropped nor padded
    return out.reshape(X.shape)


def stretch_isotropic(X, max_scale, rng):
    imgs = X.reshape(-1, 28, 28)
    out = np.empty_like(imgs)
    for i, img in enumerate(imgs):
        s = rng.uniform(1 - max_scale, 1 + max_scale)  # one factor for both axes
        out[i] = ndimage.affine_transform(img, [1 / s, 1 / s], offset=C - C / s, order=1)
    return out.reshape(X.shape)


def stretch_nearest_edge(X, max_scale, rng):
    imgs = X.reshape(-1, 28, 28)
    out = np.empty_like(imgs)
    for i, img in enumerate(imgs):
        s = rng.uniform(1 - max_scale, 1 + max_scale, size=2)
        out[i] = ndimage.affine_transform(img, 1 / s, offset=C - C / s, order=1, mode="nearest")
    return out.reshape(X.shape)


def noise_not_clipped(X, std, rng):
    return (X + rng.normal(0.0, std, X.shape)).astype(X.dtype)


def noise_std_as_variance(X, std, rng):
    return np.clip(X + rng.normal(0.0, np.sqrt(std), X.shape), 0, 1).astype(X.dtype)


def noise_rescaled(X, std, rng):
    noisy = X + rng.normal(0.0, std, X.shape)
    return ((noisy - noisy.min()) / (noisy.max() - noisy.min())).astype(X.dtype)


def noise_float64(X, std, rng):
    return np.clip(X + rng.normal(0.0, std, X.shape), 0, 1)


def noise_in_place(X, std, rng):
    X += rng.normal(0.0, std, X.shape).astype(X.dtype)
    np.clip(X, 0, 1, out=X)
    return X


def noise_global_random(X, std, rng):
    return np.clip(X + np.random.normal(0.0, std, X.shape), 0, 1).astype(X.dtype)


def noise_fixed_seed(X, std, rng):
    rng = np.random.default_rng(0)  # the rng passed in is ignored
    return np.clip(X + rng.normal(0.0, std, X.shape), 0, 1).astype(X.dtype)


def noise_same_for_all(X, std, rng):
    noise = rng.normal(0.0, std, X.shape[1:])  # one pattern for the batch
    return np.clip(X + noise, 0, 1).astype(X.dtype)


def noise_uint8(X, std, rng):
    pixels = np.round(X * 255).astype(np.uint8)
    noise = np.round(rng.normal(0.0, std * 255, X.shape)).astype(np.int64).astype(np.uint8)
    return ((pixels + noise) / 255).astype(X.dtype)  # uint8 + uint8 wraps modulo 256


def augment_shuffles(X, y, rng, noise_std=0.0, max_shift=0, max_scale=0.0, max_degrees=0.0):
    X_aug, y_aug = augment(X, y, rng, noise_std, max_shift, max_scale, max_degrees)
    order = rng.permutation(len(X))
    return X_aug[order], y_aug[order]


def augment_no_rotation(X, y, rng, noise_std=0.0, max_shift=0, max_scale=0.0, max_degrees=0.0):
    X = random_stretch(X, max_scale, rng)
    X = random_shift(X, max_shift, rng)  # max_degrees forgotten
    return add_noise(X, noise_std, rng), y


def augment_noise_first(X, y, rng, noise_std=0.0, max_shift=0, max_scale=0.0, max_degrees=0.0):
    X = add_noise(X, noise_std, rng)
    X = random_stretch(X, max_scale, rng)
    X = random_rotation(X, max_degrees, rng)
    return random_shift(X, max_shift, rng), y


def augment_swapped_args(X, y, rng, noise_std=0.0, max_shift=0, max_scale=0.0, max_degrees=0.0):
    X = random_stretch(X, max_degrees / 100, rng)  # the wrong strength
    X = random_rotation(X, max_scale * 100, rng)
    X = random_shift(X, max_shift, rng)
    return add_noise(X, noise_std, rng), y


def _aug(**replace):
    names = ("add_noise", "random_shift", "random_stretch", "random_rotation", "augment")
    return tuple(replace.get(n, f) for n, f in zip(names, _REF, strict=True))


AUGMENTATION_WRONG = {
    "shift_np_roll": (_aug(random_shift=shift_roll), r"wrap-around.*np\.roll", AUG_BOTH),
    "shift_one_for_all": (_aug(random_shift=shift_one_for_all), r"the same \(dy, dx\)",
                          AUG_BOTH),
    "shift_exclusive_high": (_aug(random_shift=shift_exclusive_high),
                             r"excludes high.*max_shift \+ 1", AUG_BOTH),
    "shift_dy_equals_dx": (_aug(random_shift=shift_same_dy_dx), r"dy equals dx", AUG_BOTH),
    "rotation_transpose": (_aug(random_rotation=rotation_transpose),
                           r"(mirror image|transpose is a) reflection", AUG_BOTH),
    "rotation_radians": (_aug(random_rotation=rotation_radians), r"pi/180.*radians",
                         AUG_BOTH),
    "rotation_reshape_true": (_aug(random_rotation=rotation_reshape),
                              r"keep the 28x28 frame", AUG_BOTH),
    "rotation_one_angle": (_aug(random_rotation=rotation_one_angle), r"the same angle",
                           AUG_BOTH),
    "rotation_about_corner": (_aug(random_rotation=rotation_about_corner),
                              r"about the\s+image centre", AUG_BOTH),
    "stretch_about_corner": (_aug(random_stretch=stretch_corner), r"about the corner",
                             AUG_BOTH),
    "stretch_zoom_shape": (_aug(random_stretch=stretch_zoom), r"keep the 28x28 frame",
                           AUG_BOTH),
    "stretch_one_factor": (_aug(random_stretch=stretch_isotropic), r"sy equals sx", AUG_BOTH),
    "stretch_nearest_edge": (_aug(random_stretch=stretch_nearest_edge),
                             r"border rows.*not 0", AUG_BOTH),
    "noise_not_clipped": (_aug(add_noise=noise_not_clipped), r"outside \[0, 1\].*clip",
                          AUG_BOTH),
    "noise_std_as_variance": (_aug(add_noise=noise_std_as_variance),
                              r"sqrt\(std\): std is used as the variance", AUG_BOTH),
    "noise_min_max_rescaled": (_aug(add_noise=noise_rescaled), r"rescaled", AUG_BOTH),
    "noise_float64_output": (_aug(add_noise=noise_float64), r"dtype float64 for a float32",
                             AUG_BOTH),
    "noise_in_place": (_aug(add_noise=noise_in_place), r"modified its argument `X` in place",
                       AUG_BOTH),
    "noise_global_np_random": (_aug(add_noise=noise_global_random),
                               r"same state gave different outputs", AUG_BOTH),
    "noise_fixed_seed": (_aug(add_noise=noise_fixed_seed), r"different seeds gave the same",
                         AUG_BOTH),
    "noise_same_for_all_images": (_aug(add_noise=noise_same_for_all), r"the same noise",
                                  AUG_BOTH),
    "noise_uint8_overflow": (_aug(add_noise=noise_uint8), r"uint8", AUG_BOTH),
    "augment_shuffles": (_aug(augment=augment_shuffles), r"y_aug is not y \(the same labels",
                         AUG_BOTH),
    "augment_ignores_max_degrees": (_aug(augment=augment_no_rotation),
                                    r"augment\(X, y, rng, max_degrees=.*max_degrees=\S+ has "
                                    r"no effect", AUG_BOTH),
    "augment_noise_first": (_aug(augment=augment_noise_first), r"noise must come last",
                            AUG_BOTH),
    "augment_strengths_swapped": (_aug(augment=augment_swapped_args), r"augment\(X, y, rng, "
                                  r"max_(scale|degrees)=", AUG_BOTH),
}  # fmt: skip


# =========================================================================================
# Task 10: class weights and the class-weighted cross-entropy
# =========================================================================================
CW_BOTH = ("check_class_weights", "check_class_weights_hidden")
CE_BOTH = ("check_weighted_cross_entropy", "check_weighted_cross_entropy_hidden")


def class_weights(y, num_classes):
    counts = np.bincount(y, minlength=num_classes)
    weights = np.zeros(num_classes)
    present = counts > 0
    weights[present] = len(y) / (num_classes * counts[present])
    return weights


def class_weights_raises(y, num_classes):
    counts = np.array([np.sum(y == c) for c in range(num_classes)], dtype=float)
    if np.any(counts == 0):
        raise ValueError(f"class {int(np.argmin(counts))} does not occur in y")
    return y.size / num_classes / counts


def class_weights_loop(y, num_classes):
    weights = []
    for c in range(num_classes):
        count = int((y == c).sum())
        weights.append(len(y) / (num_classes * count) if count else 0.0)
    return np.array(weights)


def weighted_cross_entropy(logits, y, weights):
    n = len(y)
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    w = weights[y]
    loss = -np.sum(w * log_p[np.arange(n), y]) / n
    dlogits = np.exp(log_p)
    dlogits[np.arange(n), y] -= 1
    return float(loss), dlogits * w[:, None] / n


def weighted_ce_onehot(logits, y, weights):
    """One-hot targets and a per-class weight row (only the true class's column counts)."""
    onehot = np.eye(logits.shape[1])[y]
    lse = np.logaddexp.reduce(logits, axis=1, keepdims=True)
    per_class = -(onehot * (logits - lse)) * weights[None, :]
    n = logits.shape[0]
    probs = np.exp(logits - lse)
    return per_class.sum() / n, (probs - onehot) * (onehot @ weights)[:, None] / n


def weighted_ce_scipy(logits, y, weights):
    from scipy.special import log_softmax, softmax

    w = np.take(weights, y)
    ce = -np.take_along_axis(log_softmax(logits, axis=1), y[:, None], axis=1)[:, 0]
    grad = softmax(logits, axis=1)
    grad[np.arange(len(y)), y] -= 1.0
    return np.mean(w * ce), grad * (w / len(y))[:, None]


# --- wrong ---
def cw_counts(y, num_classes):
    counts = np.bincount(y, minlength=num_classes)
    return counts / counts.mean()  # grows with the count


def cw_sum_to_one(y, num_classes):
    counts = np.bincount(y, minlength=num_classes).astype(float)
    w = np.where(counts > 0, 1 / np.maximum(counts, 1), 0.0)
    return w / w.sum()


def cw_no_num_classes(y, num_classes):
    counts = np.bincount(y, minlength=num_classes)
    return np.where(counts > 0, len(y) / np.maximum(counts, 1), 0.0)


def cw_first_appearance_order(y, num_classes):
    order = list(dict.fromkeys(y.tolist()))  # classes in order of appearance
    w = np.zeros(num_classes)
    for i, c in enumerate(order):
        w[i] = len(y) / (num_classes * np.sum(y == c))
    return w


def cw_inf_for_absent(y, num_classes):
    counts = np.bincount(y, minlength=num_classes)
    return len(y) / (num_classes * counts)  # inf for a class that never occurs


def cw_bincount_short(y, num_classes):
    counts = np.bincount(y)  # no minlength: too short when the last class is absent
    return np.where(counts > 0, len(y) / (num_classes * np.maximum(counts, 1)), 0.0)


def cw_present_classes(y, num_classes):
    classes, counts = np.unique(y, return_counts=True)
    w = np.zeros(num_classes)
    w[classes] = len(y) / (len(classes) * counts)  # classes present, not num_classes
    return w


def cw_integer_division(y, num_classes):
    counts = np.bincount(y, minlength=num_classes)
    return np.where(counts > 0, len(y) // (num_classes * np.maximum(counts, 1)), 0)


def wce_weighted_mean(logits, y, weights):
    loss, _ = weighted_cross_entropy(logits, y, weights)
    w = weights[y]
    _, grad = weighted_cross_entropy(logits, y, weights)
    return loss * len(y) / w.sum(), grad * len(y) / w.sum()  # divides by sum of weights


def wce_grad_unweighted(logits, y, weights):
    loss, _ = weighted_cross_entropy(logits, y, weights)
    _, grad = weighted_cross_entropy(logits, y, np.ones_like(weights))
    return loss, grad


def wce_grad_no_mean(logits, y, weights):
    loss, grad = weighted_cross_entropy(logits, y, weights)
    return loss, grad * len(y)


def wce_squared(logits, y, weights):
    loss, grad = weighted_cross_entropy(logits, y, weights**2)
    return loss, grad


def wce_predicted_class(logits, y, weights):
    w = weights[np.argmax(logits, axis=1)]  # weight of the predicted class
    loss, grad = weighted_cross_entropy(logits, y, np.ones_like(weights))
    ce = loss * 0 + (w * _ce_rows(logits, y)).mean()
    return ce, grad * w[:, None]


def _ce_rows(logits, y):
    z = logits - logits.max(axis=1, keepdims=True)
    return -(z - np.log(np.exp(z).sum(axis=1, keepdims=True)))[np.arange(len(y)), y]


def wce_weights_on_logits(logits, y, weights):
    return weighted_cross_entropy(logits * weights, y, np.ones_like(weights))


def wce_weights_on_probabilities(logits, y, weights):
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True) * weights
    p = p / p.sum(axis=1, keepdims=True)
    n = len(y)
    grad = p.copy()
    grad[np.arange(n), y] -= 1
    return float(-np.log(p[np.arange(n), y]).mean()), grad / n


def wce_unstable(logits, y, weights):
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)  # overflows
    n = len(y)
    w = weights[y]
    loss = -np.sum(w * np.log(p[np.arange(n), y])) / n
    grad = p.copy()
    grad[np.arange(n), y] -= 1
    return loss, grad * w[:, None] / n


def wce_unweighted(logits, y, weights):
    return weighted_cross_entropy(logits, y, np.ones_like(weights))


def cw_sklearn(y, num_classes):
    from sklearn.utils.class_weight import compute_class_weight

    return compute_class_weight("balanced", classes=np.arange(num_classes), y=y)


def wce_course_utils(logits, y, weights):
    from course_utils.losses import softmax_cross_entropy

    return softmax_cross_entropy(logits, y, class_weights=weights)


CLASS_WEIGHTS_CORRECT = [class_weights, class_weights_raises, class_weights_loop]
CLASS_WEIGHTS_WRONG = {
    "counts_not_inverse": (cw_counts, r"grow with the class counts", CW_BOTH),
    "normalised_to_sum_1": (cw_sum_to_one, r"sum to 1 \(normalised\)", CW_BOTH),
    "n_over_count_without_c": (cw_no_num_classes, r"C = \d+ times too large", CW_BOTH),
    "order_of_appearance": (cw_first_appearance_order, r"another class order", CW_BOTH),
    "inf_for_absent_class": (cw_inf_for_absent, r"does not occur in y, and its weight is inf",
                             CW_BOTH),
    "bincount_without_minlength": (cw_bincount_short, r"shape \(\d+,\), expected.*minlength",
                                   CW_BOTH),
    "present_classes_for_c": (cw_present_classes, r"classes present in y instead of "
                              r"num_classes", CW_BOTH),
    "sklearn_library": (cw_sklearn, r"must not use.*compute_class_weight", CW_BOTH),
    "integer_division": (cw_integer_division, r"int64 weights.*not //", CW_BOTH),
}  # fmt: skip
WEIGHTED_CROSS_ENTROPY_CORRECT = [weighted_cross_entropy, weighted_ce_onehot, weighted_ce_scipy]
WEIGHTED_CROSS_ENTROPY_WRONG = {
    "divides_by_sum_of_weights": (wce_weighted_mean, r"divide by the sum of the weights",
                                  CE_BOTH),
    "grad_without_weights": (wce_grad_unweighted, r"weights are missing from dlogits",
                             CE_BOTH),
    "grad_not_divided_by_n": (wce_grad_no_mean, r"not divided by N", CE_BOTH),
    "weights_squared": (wce_squared, r"applied twice", CE_BOTH),
    "weights_of_predicted_class": (wce_predicted_class, r"PREDICTED class", CE_BOTH),
    "weights_on_logits": (wce_weights_on_logits, r"multiply the logits", CE_BOTH),
    "weights_on_probabilities": (wce_weights_on_probabilities, r"multiply the probabilities",
                                 CE_BOTH),
    "unstable_softmax": (wce_unstable, r"log-sum-exp", CE_BOTH),
    "course_utils_library": (wce_course_utils, r"must not use.*softmax_cross_entropy",
                             CE_BOTH),
    "weights_ignored": (wce_unweighted, r"weights are not applied", CE_BOTH),
}  # fmt: skip


# =========================================================================================
# Task 11: fine-tuning the last layer in Keras
# =========================================================================================
FT_BOTH = ("check_fine_tune", "check_fine_tune_hidden")


def _keras():
    from course_utils.environment import import_tensorflow

    import_tensorflow()
    import keras

    return keras


def _compile_fit(model, X, y, epochs, lr, batch_size, seed, **changes):
    keras = _keras()
    keras.utils.set_random_seed(changes.get("seed", seed))
    model.compile(
        optimizer=changes.get("optimizer", keras.optimizers.Adam(learning_rate=lr)),
        loss=changes.get("loss", keras.losses.SparseCategoricalCrossentropy(from_logits=True)),
        metrics=["accuracy"],
    )
    epochs = changes.get("fit_epochs", epochs)
    batch_size = changes.get("batch_size", batch_size)
    return model.fit(X, y, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0)


def fine_tune(model, X, y, epochs, lr, batch_size=128, seed=0):
    keras = _keras()
    for layer in model.layers[:-1]:
        layer.trainable = False
    keras.utils.set_random_seed(seed)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model.fit(X, y, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0)


def fine_tune_enumerate(model, X, y, epochs, lr, batch_size=128, seed=0):
    last = len(model.layers) - 1
    for i, layer in enumerate(model.layers):
        layer.trainable = i == last
    return _compile_fit(model, X, y, epochs, lr, batch_size, seed)


def fine_tune_freeze_after_compile(model, X, y, epochs, lr, batch_size=128, seed=0):
    """Keras 3 reads the trainable flags when fit builds its train step: freezing after
    compile (but before fit) takes effect."""
    import keras

    keras.utils.set_random_seed(seed)
    model.compile(keras.optimizers.Adam(lr),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])  # fmt: skip
    for layer in model.layers:
        layer.trainable = layer is model.layers[-1]
    return model.fit(X, y, batch_size, epochs, verbose=0)


# --- wrong ---
def ft_nothing_frozen(model, X, y, epochs, lr, batch_size=128, seed=0):
    return _compile_fit(model, X, y, epochs, lr, batch_size, seed)


def ft_everything_frozen(model, X, y, epochs, lr, batch_size=128, seed=0):
    for layer in model.layers:
        layer.trainable = False
    return _compile_fit(model, X, y, epochs, lr, batch_size, seed)


def ft_first_only(model, X, y, epochs, lr, batch_size=128, seed=0):
    model.layers[0].trainable = False
    return _compile_fit(model, X, y, epochs, lr, batch_size, seed)


def ft_dense_only(model, X, y, epochs, lr, batch_size=128, seed=0):
    keras = _keras()
    for layer in model.layers[:-1]:
        if isinstance(layer, keras.layers.Dense):  # BatchNormalization left trainable
            layer.trainable = False
    return _compile_fit(model, X, y, epochs, lr, batch_size, seed)


def ft_clone(model, X, y, epochs, lr, batch_size=128, seed=0):
    keras = _keras()
    new = keras.models.clone_model(model)
    new.set_weights(model.get_weights())
    for layer in new.layers[:-1]:
        layer.trainable = False
    return _compile_fit(new, X, y, epochs, lr, batch_size, seed)


def ft_epochs_ignored(model, X, y, epochs, lr, batch_size=128, seed=0):
    for layer in model.layers[:-1]:
        layer.trainable = False
    return _compile_fit(model, X, y, epochs, lr, batch_size, seed, fit_epochs=1)


def ft_lr_ignored(model, X, y, epochs, lr, batch_size=128, seed=0):
    for layer in model.layers[:-1]:
        layer.trainable = False
    return _compile_fit(model, X, y, epochs, lr, batch_size, seed,
                        optimizer=_keras().optimizers.Adam())  # fmt: skip


def ft_sgd(model, X, y, epochs, lr, batch_size=128, seed=0):
    for layer in model.layers[:-1]:
        layer.trainable = False
    return _compile_fit(model, X, y, epochs, lr, batch_size, seed,
                        optimizer=_keras().optimizers.SGD(lr))  # fmt: skip


def ft_batch_size_ignored(model, X, y, epochs, lr, batch_size=128, seed=0):
    for layer in model.layers[:-1]:
        layer.trainable = False
    keras = _keras()
    keras.utils.set_random_seed(seed)
    model.compile(keras.optimizers.Adam(lr),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])  # fmt: skip
    return model.fit(X, y, epochs=epochs, verbose=0)


def ft_from_probabilities(model, X, y, epochs, lr, batch_size=128, seed=0):
    for layer in model.layers[:-1]:
        layer.trainable = False
    return _compile_fit(model, X, y, epochs, lr, batch_size, seed,
                        loss="sparse_categorical_crossentropy")  # fmt: skip


def ft_not_seeded(model, X, y, epochs, lr, batch_size=128, seed=0):
    keras = _keras()
    for layer in model.layers[:-1]:
        layer.trainable = False
    model.compile(keras.optimizers.Adam(lr),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])  # fmt: skip
    return model.fit(X, y, epochs=epochs, batch_size=batch_size, verbose=0)


def ft_model_not_trainable(model, X, y, epochs, lr, batch_size=128, seed=0):
    """The transfer-learning recipe's base_model.trainable = False, on the whole model: a
    layer inside a non-trainable model is not trained, whatever its own flag."""
    model.trainable = False
    model.layers[-1].trainable = True
    return _compile_fit(model, X, y, epochs, lr, batch_size, seed)


def ft_freeze_after_fit(model, X, y, epochs, lr, batch_size=128, seed=0):
    history = _compile_fit(model, X, y, epochs, lr, batch_size, seed)
    for layer in model.layers[:-1]:
        layer.trainable = False  # too late: fit has trained them
    return history


def ft_returns_model(model, X, y, epochs, lr, batch_size=128, seed=0):
    fine_tune(model, X, y, epochs, lr, batch_size, seed)
    return model


FINE_TUNE_CORRECT = [fine_tune, fine_tune_enumerate, fine_tune_freeze_after_compile]
FINE_TUNE_WRONG = {
    "nothing_frozen": (ft_nothing_frozen, r"nothing is frozen", FT_BOTH),
    "everything_frozen": (ft_everything_frozen, r"last layer is frozen too", FT_BOTH),
    "first_layer_only": (ft_first_only, r"BatchNormalization is left trainable",
                         FT_BOTH),
    "batchnorm_left_trainable": (ft_dense_only,
                                 r"moving_mean.*BatchNormalization is left trainable",
                                 FT_BOTH),
    "trains_a_clone": (ft_clone, r"was not trained: train that model", FT_BOTH),
    "epochs_ignored": (ft_epochs_ignored, r"History has 1 epochs", FT_BOTH),
    "lr_ignored": (ft_lr_ignored, r"learning rate is 0\.001, expected lr", FT_BOTH),
    "sgd_not_adam": (ft_sgd, r"optimizer is SGD, expected Adam", FT_BOTH),
    "batch_size_ignored": (ft_batch_size_ignored, r"batch_size is ignored", FT_BOTH),
    "loss_from_probabilities": (ft_from_probabilities, r"from_logits=True", FT_BOTH),
    "not_seeded": (ft_not_seeded, r"same seed.*set_random_seed", FT_BOTH),
    "model_trainable_false": (ft_model_not_trainable, r"model\.trainable is False", FT_BOTH),
    "freezes_after_fit": (ft_freeze_after_fit, r"were trained: set trainable = False BEFORE",
                          FT_BOTH),
    "returns_the_model": (ft_returns_model, r"returned Sequential, expected the History",
                          FT_BOTH),
}  # fmt: skip


def _dotall(entries: dict) -> dict:
    """The patterns match across the message's lines (the hint follows a newline)."""
    return {name: (impl, "(?s)" + pattern, checks)
            for name, (impl, pattern, checks) in entries.items()}  # fmt: skip


AUGMENTATION_WRONG = _dotall(AUGMENTATION_WRONG)
CLASS_WEIGHTS_WRONG = _dotall(CLASS_WEIGHTS_WRONG)
WEIGHTED_CROSS_ENTROPY_WRONG = _dotall(WEIGHTED_CROSS_ENTROPY_WRONG)
FINE_TUNE_WRONG = _dotall(FINE_TUNE_WRONG)
