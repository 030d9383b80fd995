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

import math

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
        src = imgs[i, max(0, -dy):28 - max(0, dy), max(0, -dx):28 - max(0, dx)]
        out[i, max(0, dy):max(0, dy) + src.shape[0], max(0, dx):max(0, dx) + src.shape[1]] = src
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
        out[i] = padded[i, m - dy:m - dy + 28, m - dx:m - dx + 28]
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
    return padded[:, m - dy:m - dy + 28, m - dx:m - dx + 28].reshape(X.shape).copy()


def shift_exclusive_high(X, max_shift, rng):
    imgs = X.reshape(-1, 28, 28)
    m = max_shift
    padded = np.pad(imgs, ((0, 0), (m, m), (m, m)))
    out = np.empty_like(imgs)
    for i in range(len(imgs)):
        dy, dx = rng.integers(-m, m, size=2)  # high is exclusive: +m never drawn
        out[i] = padded[i, m - dy:m - dy + 28, m - dx:m - dx + 28]
    return out.reshape(X.shape)


def shift_same_dy_dx(X, max_shift, rng):
    imgs = X.reshape(-1, 28, 28)
    m = max_shift
    padded = np.pad(imgs, ((0, 0), (m, m), (m, m)))
    out = np.empty_like(imgs)
    for i in range(len(imgs)):
        d = rng.integers(-m, m + 1)  # one draw for both axes
        out[i] = padded[i, m - d:m - d + 28, m - d:m - d + 28]
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
                                    r"augment\(X, y, rng, max_degrees=.*same angle", AUG_BOTH),
    "augment_noise_first": (_aug(augment=augment_noise_first), r"noise must come last",
                            AUG_BOTH),
    "augment_strengths_swapped": (_aug(augment=augment_swapped_args), r"augment\(X, y, rng, "
                                  r"max_(scale|degrees)=", AUG_BOTH),
}  # fmt: skip
