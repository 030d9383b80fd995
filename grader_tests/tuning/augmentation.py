"""Task 9 of 07_tuning: data augmentation of 28x28 digits (regularization.ipynb).

The student's functions (X: (N, 28, 28) or (N, 784) floats in [0, 1]; rng: a
``np.random.Generator``)::

    add_noise(X, std, rng)             X + N(0, std^2), clipped to [0, 1]
    random_shift(X, max_shift, rng)    whole-pixel (dy, dx), each in [-max_shift, max_shift],
                                       zeros shifted in
    random_stretch(X, max_scale, rng)  zoom about the centre by (sy, sx), each uniform in
                                       [1 - max_scale, 1 + max_scale], 28x28 kept, zeros outside
    random_rotation(X, max_degrees, rng)  rotate about the centre by an angle uniform in
                                       [-max_degrees, max_degrees], zeros outside
    augment(X, y, rng, noise_std=0.0, max_shift=0, max_scale=0.0, max_degrees=0.0)
                                       stretch, rotation, shift, noise; returns (X_aug, y)

What every function must do, checked on both layouts and on float32 and float64: a new
array of X's shape and dtype, values in [0, 1] (1e-6 allowed for float rounding), X
untouched (``call_student``), X itself at zero strength (values equal within 1e-6), the
same output from two generators in the same state and a different one from another seed,
and one draw per image. What each transform does is MEASURED on test images made for it
(``_image_measures``), so any correct way of writing it passes:

- shift, on images of random pixels: each output must be its input moved by whole pixels
  with zeros shifted in (exact to 1e-6); the shifts lie in [-m, m], reach both -m and m
  (200 images: a value of 7 is missed with probability below 1e-13), differ between
  images and between the two axes;
- stretch, on a centred Gaussian blob: the scale per axis (square root of the ratio of the
  ink's variances) lies in [1 - m, 1 + m] (or its inverse, [1/(1 + m), 1/(1 - m)]: both
  ways of passing the factors to affine_transform are accepted), within 0.04 (linear
  interpolation blurs the blob: up to 0.02 measured), reaches 1 +- 0.8 m, differs between
  images and axes; the centre of the ink stays within 0.5 pixel of (13.5, 13.5) (a centre
  at 14 moves it by at most 0.15); on all-ones images the rows and columns that come from
  outside the input (factor below 0.9) are 0;
- rotation, on off-centre bars (``bar_images``): the bar's position turns by an angle in
  [-M - 1, M + 1] degrees (measured to 0.1 degree), reaching +-0.8 M, and its axis by the
  same angle (within 10 degrees; a reflection differs by 90), its distance from the
  centre changes by less than 0.5 pixel; on all-ones images the corners rotated in from
  outside (angle of 8 degrees or more) are 0;
- noise, on mid-grey (0.5) images: the noise's standard deviation, estimated from the
  median of |noise| (1.4826 x median, which clipping at 0 and 1 does not change), within
  4 % of std (its statistical error is 0.5 %), mean 0, one value per pixel and per image;
  on black-and-white images, clipping leaves about half the black (white) pixels exactly
  0 (1): 0.5 +- 0.1 is required;
- augment: y returned unchanged, X at zero strengths, each argument alone does what its
  transform does (measured as above), and the noise is applied last (after a shift no
  row of an image is exactly 0).
"""

from __future__ import annotations

import re

import numpy as np

from course_utils.grading import call_student, check, expect_callable, fail, seal, to_array

from . import _image_measures as im
from ._common import forbid_library

_NAMES = ("add_noise", "random_shift", "random_stretch", "random_rotation", "augment")
_ARG = {"add_noise": "std", "random_shift": "max_shift", "random_stretch": "max_scale",
        "random_rotation": "max_degrees"}  # fmt: skip
_KW = {"add_noise": "noise_std", "random_shift": "max_shift", "random_stretch": "max_scale",
       "random_rotation": "max_degrees"}  # fmt: skip


def _error_hint(exc: BaseException) -> str | None:
    text = str(exc)
    shapes = re.findall(r"shape \(([\d, ]+)\)", text)
    if shapes and any(s.replace(" ", "") not in ("28,28", "784") for s in shapes[:1]):
        return (f"an image of shape ({shapes[0]}) was made where (28, 28) was needed: every "
                f"transform must keep the 28x28 frame (crop or pad what scipy.ndimage.zoom "
                f"returns, or use affine_transform / rotate(..., reshape=False))")  # fmt: skip
    if "high <= 0" in text:
        return (
            "rng.integers(low, high) excludes high: with max_shift = 0 that is "
            "integers(0, 0), an empty range; draw rng.integers(-max_shift, max_shift + 1)"
        )
    if "same shape" in text or "inhomogeneous" in text:
        return "the transformed images have different shapes: each must stay 28x28"
    return None


class _Runner:
    """Calls one transform (or augment with one argument) and checks its output's form."""

    def __init__(self, fn, name: str, kw: str | None = None):
        self.fn, self.name, self.kw = fn, name, kw

    def label(self, X, strength) -> str:
        if self.kw is None:
            call = f"{self.name}(X, {_ARG[self.name]}={strength:g}, rng)"
        else:
            call = f"augment(X, y, rng, {self.kw}={strength:g})"
        return f"`{call}` on X of shape {X.shape} {X.dtype}"

    def __call__(self, X, strength, seed: int, effect: bool = True) -> np.ndarray:
        label = self.label(X, strength)
        rng = np.random.default_rng(seed)
        if self.kw is None:
            got = call_student(self.fn, X, strength, rng, label=label, hint=_error_hint)
        else:
            y = np.arange(len(X)) % 10
            got = call_student(self.fn, X, y, rng, label=label, hint=_error_hint,
                               **{self.kw: strength})  # fmt: skip
            if not isinstance(got, tuple | list) or len(got) != 2:
                fail(f"{label} returned {type(got).__name__}, expected the pair (X_aug, y_aug)")
            got = got[0]
        out = output(got, X, label)
        if effect and strength and np.array_equal(out, X):
            for other in (seed + 100, seed + 200):  # one draw for all images can be 0
                if not np.array_equal(self(X, strength, other, effect=False), X):
                    return out
            arg = self.kw or _ARG[self.name]
            fail(f"{label} returned X unchanged\nHint: {arg}={strength:g} has no effect: "
                 f"apply the transform whenever its strength is not 0")  # fmt: skip
        return out


def output(got, X: np.ndarray, label: str) -> np.ndarray:
    """The student's output as an array, after the checks every transform must pass."""
    out = to_array(got, f"{label}'s result", expected_ndim=X.ndim)
    if out.shape != X.shape:
        fail(f"{label} returned shape {out.shape}, expected X's shape {X.shape}\nHint: "
             f"return an array of the input's shape (reshape the 28x28 images back to "
             f"{X.shape[1:]})")  # fmt: skip
    if out.dtype != X.dtype:
        fail(f"{label} returned dtype {out.dtype} for a {X.dtype} X\nHint: keep the input's "
             f"dtype (e.g. `.astype(X.dtype)` at the end: NumPy's random draws are float64, "
             f"and float32 combined with float64 gives float64)")  # fmt: skip
    if not np.all(np.isfinite(out)):
        fail(f"{label} returned NaN or inf")
    lo, hi = float(out.min()), float(out.max())
    if lo < -1e-6 or hi > 1 + 1e-6:
        fail(f"{label}: values range over [{lo:.4g}, {hi:.4g}], outside [0, 1]\nHint: pixel "
             f"values must stay in [0, 1]: clip the noisy image with np.clip(..., 0, 1); a "
             f"linear interpolation (order=1) of values in [0, 1] stays in [0, 1]")  # fmt: skip
    return out


def _layout(imgs: np.ndarray, flat: bool, dtype) -> np.ndarray:
    return np.ascontiguousarray(imgs.reshape(len(imgs), -1) if flat else imgs).astype(dtype)


def _identity_hint(x: np.ndarray, out: np.ndarray) -> str:
    """What a zero-strength output that is not X is, when it is something simple."""
    xi, oi = im.as_images(x), im.as_images(out)
    if np.abs(oi - xi.transpose(0, 2, 1)).max() <= 1e-6:
        return (
            "each image is transposed: a transpose is a reflection (about the "
            "diagonal), not a rotation; "
        )
    if np.abs(out * 255 - np.round(out * 255)).max() < 1e-4:
        return (
            "your values are multiples of 1/255: the images were converted to 8-bit "
            "integers (0..255, uint8), which rounds them; work in floating point; "
        )
    a, b = np.polyfit(x.reshape(-1), out.reshape(-1), 1)
    if np.abs(a * x + b - out).max() <= 1e-6:
        return (
            f"your output is {a:.6g} x X {b:+.3g}: the values are rescaled "
            f"(min-max?); clip to [0, 1] instead; "
        )
    return ""


def _generic(run: _Runner, strength, n: int, flat: bool, dtype, rng) -> None:
    """Form, identity at zero strength, reproducibility, other seed differs."""
    X = _layout(rng.random((n, 28, 28)), flat, dtype)
    same = run(X, 0 * strength, seed=3).astype(np.float64)
    if np.abs(same - X).max() > 1e-6:
        fail(f"{run.label(X, 0 * strength)} changed X (up to {np.abs(same - X).max():.3g})"
             f"\nHint: {_identity_hint(X.astype(np.float64), same)}at zero strength the "
             f"transform is the identity: it must return X's values")  # fmt: skip
    a, b, c = run(X, strength, seed=5), run(X, strength, seed=5), run(X, strength, seed=6)
    if not np.array_equal(a, b):
        fail(f"{run.label(X, strength)}: two generators in the same state gave different "
             f"outputs\nHint: draw every random number from `rng` (not np.random.*, not a new "
             f"generator), so that a seed reproduces the augmentation")  # fmt: skip
    if np.array_equal(a, c):
        fail(f"{run.label(X, strength)}: generators with different seeds gave the same "
             f"output\nHint: the draws must come from the `rng` passed in (a fixed seed "
             f"inside the function ignores it)")  # fmt: skip


# --- the transforms, measured ------------------------------------------------------------
def _shift(run: _Runner, m: int, n: int, flat: bool, dtype, rng) -> None:
    X = _layout(rng.random((n, 28, 28)), flat, dtype)
    out, x = im.as_images(run(X, m, seed=11)), im.as_images(X)
    label = run.label(X, m)
    reach = min(m + 2, 27)
    shifts, ok = im.match_shifts(x, out, reach)
    if not ok.all():
        i = int(np.nonzero(~ok)[0][0])
        _, wrapped = im.match_shifts(x[i : i + 1], out[i : i + 1], reach, wrap=True)
        if wrapped[0]:
            hint = (
                "it is X[i] moved with a wrap-around: the pixels pushed out on one side "
                "come back on the other (np.roll); the pixels shifted in must be 0"
            )
        else:
            hint = (
                f"it is not X[i] moved by whole pixels (at most {reach}) with zeros "
                f"shifted in; shift by integers (dy, dx), copy the overlapping part "
                f"into a zero image"
            )
        fail(f"{label}: output image {i} is not X[{i}] shifted by whole pixels with zeros "
             f"shifted in\nHint: {hint}")  # fmt: skip
    dy, dx = shifts[:, 0], shifts[:, 1]
    lo, hi = int(shifts.min()), int(shifts.max())
    if lo < -m or hi > m:
        fail(f"{label}: shifts range over [{lo}, {hi}], outside [-{m}, {m}]")
    if len(np.unique(shifts, axis=0)) == 1:
        fail(f"{label}: every image is shifted by the same (dy, dx) = {tuple(shifts[0])}\n"
             f"Hint: draw a shift per image (size=(N, 2) or one draw inside the loop)")  # fmt: skip
    for axis, s in (("dy", dy), ("dx", dx)):
        if s.min() > -m or s.max() < m:
            hint = (
                "the upper end max_shift is never drawn: rng.integers(low, high) excludes "
                "high, so draw rng.integers(-max_shift, max_shift + 1)"
                if s.max() == m - 1
                else "each must be uniform over the whole range"
            )
            fail(f"{label}: over {n} images, {axis} takes only values in [{s.min()}, "
                 f"{s.max()}], never all of [-{m}, {m}]\nHint: {hint}")  # fmt: skip
    if np.array_equal(dy, dx):
        fail(f"{label}: dy equals dx in every image\nHint: draw dy and dx independently")


def _stretch(run: _Runner, m: float, n: int, flat: bool, dtype, rng) -> None:
    X = _layout(im.blob_images(n), flat, dtype)
    out, label = im.as_images(run(X, m, seed=12)), run.label(X, m)
    q = im.scale_of(im.as_images(X), out)
    if not np.all(q["ink"] > 0.2):
        i = int(np.argmin(q["ink"]))
        fail(f"{label}: image {i} of a centred blob came out (nearly) empty (ink "
             f"{q['ink'][i]:.3g} of the input's)\nHint: zoom about the image centre")  # fmt: skip
    off = np.maximum(np.abs(q["cy"] - im.CENTRE), np.abs(q["cx"] - im.CENTRE))
    if off.max() > 0.5:
        i = int(np.argmax(off))
        corner = np.all(np.abs(q["cy"] - im.CENTRE * q["sy"]) < 0.3) or np.all(
            np.abs(q["cy"] - im.CENTRE / q["sy"]) < 0.3)  # fmt: skip
        how = (
            " Yours zooms about the corner (0, 0): the centre went to 13.5 x the scale"
            if corner
            else ""
        )
        fail(f"{label}: the centre of a centred blob moved to ({q['cy'][i]:.2f}, "
             f"{q['cx'][i]:.2f}) in image {i}\nHint: zoom about the image centre c = (13.5, "
             f"13.5): input coordinate = c + (output coordinate - c) / s.{how}")  # fmt: skip
    lo, hi = min(1 - m, 1 / (1 + m)) - 0.04, max(1 + m, 1 / (1 - m)) + 0.04
    s = np.stack([q["sy"], q["sx"]], axis=1)
    if s.min() < lo or s.max() > hi:
        fail(f"{label}: measured scale factors range over [{s.min():.3f}, {s.max():.3f}], "
             f"outside [1 - max_scale, 1 + max_scale] = [{1 - m:.3g}, {1 + m:.3g}]")  # fmt: skip
    if np.ptp(s[:, 0]) < 0.01 and np.ptp(s[:, 1]) < 0.01:
        fail(f"{label}: every image is stretched by the same factors\nHint: draw (sy, sx) "
             f"per image")  # fmt: skip
    if np.abs(s[:, 0] - s[:, 1]).max() < 0.01:
        fail(f"{label}: sy equals sx in every image\nHint: draw the two factors "
             f"independently")  # fmt: skip
    if s.min() > 1 / (1 + 0.8 * m) or s.max() < 1 + 0.8 * m:
        fail(f"{label}: over {n} images the factors span only [{s.min():.3f}, "
             f"{s.max():.3f}]\nHint: each factor must be uniform over [1 - max_scale, "
             f"1 + max_scale]")  # fmt: skip
    ones = im.as_images(run(_layout(np.ones((n, 28, 28)), flat, dtype), m, seed=12, effect=False))
    for axis, f, edge in (("rows", s[:, 0], ones[:, [0, -1], :]),
                          ("columns", s[:, 1], ones[:, :, [0, -1]])):  # fmt: skip
        small = f < 0.9
        if small.any() and edge[small].max() > 0.01:
            fail(f"{label}: on all-ones images, the border {axis} of a shrunk image (factor "
                 f"< 0.9) are not 0\nHint: pixels that come from outside the input frame are "
                 f"0 (mode='constant', cval=0)")  # fmt: skip


def _rotation(run: _Runner, M: float, n: int, flat: bool, dtype, rng) -> None:
    X = _layout(im.bar_images(rng, n), flat, dtype)
    out, label = im.as_images(run(X, M, seed=13)), run.label(X, M)
    r = im.rotation_of(im.as_images(X), out)
    if not np.all(r["ink"] > 0.5):
        i = int(np.argmin(r["ink"]))
        fail(f"{label}: image {i} lost most of its ink (a bar near the centre)\nHint: rotate "
             f"about the image centre (13.5, 13.5), keeping 28x28")  # fmt: skip
    if np.abs(r["moved"]).max() > 0.5:
        i = int(np.argmax(np.abs(r["moved"])))
        fail(f"{label}: a bar {3.5:g} pixels from the centre moved to "
             f"{3.5 + r['moved'][i]:.2f} pixels from it (image {i})\nHint: rotate about the "
             f"image centre (13.5, 13.5)")  # fmt: skip
    if np.abs(r["mirror"]).max() > 10:
        i = int(np.argmax(np.abs(r["mirror"])))
        fail(f"{label}: image {i} is a mirror image of the input, not a rotation: its axis "
             f"turned {r['mirror'][i]:+.0f} degrees more than its position around the "
             f"centre\nHint: a reflection (a transpose, a flip, or swapped x and y "
             f"coordinates) reverses the orientation; a rotation keeps it")  # fmt: skip
    a = r["angle"]
    if np.abs(a).max() > M + 1:
        fail(f"{label}: measured rotations range over [{a.min():.1f}, {a.max():.1f}] "
             f"degrees, outside [-{M:g}, {M:g}]" + ("\nHint: np.cos and np.sin take radians"
             if np.abs(a).max() > 3 * M else ""))  # fmt: skip
    if np.ptp(a) < 0.2:
        fail(f"{label}: every image is rotated by the same angle ({a[0]:.1f} degrees)\n"
             f"Hint: draw an angle per image")  # fmt: skip
    if a.max() < 0.8 * M or a.min() > -0.8 * M:
        big = np.abs(a).max()
        hint = ("your angles are about pi/180 times the expected ones: an angle in radians "
                "is passed where degrees are expected (scipy.ndimage.rotate takes degrees)"
                if big < 1.3 * M * np.pi / 180 else "the angle must be uniform in "
                "[-max_degrees, max_degrees]")  # fmt: skip
        fail(f"{label}: over {n} images the angles span only [{a.min():.2f}, {a.max():.2f}] "
             f"degrees\nHint: {hint}")  # fmt: skip
    ones = im.as_images(run(_layout(np.ones((n, 28, 28)), flat, dtype), M, seed=13, effect=False))
    big = np.abs(a) >= 8
    if big.any() and ones[big][:, [0, 0, -1, -1], [0, -1, 0, -1]].max() > 0.05:
        fail(f"{label}: on all-ones images, the corners rotated in from outside the frame "
             f"are not 0\nHint: zeros outside (mode='constant', cval=0)")  # fmt: skip


_MAD = 0.6744897501960817  # median of |N(0, 1)|


def _noise(run: _Runner, stds, n: int, flat: bool, dtype, rng) -> None:
    grey = _layout(np.full((n, 28, 28), 0.5), flat, dtype)
    sigma = []
    for std in stds:
        out, label = im.as_images(run(grey, std, seed=14)), run.label(grey, std)
        noise = out - 0.5
        if np.all(out == out[:1]):
            fail(f"{label}: every image got the same noise\nHint: draw noise of X's full "
                 f"shape, one value per pixel of every image")  # fmt: skip
        if np.median(noise.reshape(n, -1).std(axis=1)) < 0.1 * std:
            fail(f"{label}: within each image the noise is (nearly) one constant\nHint: "
                 f"draw one value per pixel, not per image")  # fmt: skip
        est = float(np.median(np.abs(noise)) / _MAD)
        mean = float(noise.mean())
        zeros, ones = int(np.sum(out == 0)), int(np.sum(out == 1))
        if abs(est / std - 1) > 0.04 and 1 <= zeros <= n and 1 <= ones <= n:
            fail(f"{label}: on mid-grey images the output spans exactly [0, 1]\nHint: "
                 f"the values are rescaled (x - min) / (max - min): clip them, np.clip(x, "
                 f"0, 1)")  # fmt: skip
        if abs(mean) > 0.05 * std:
            fail(f"{label}: on mid-grey images the noise has mean {mean:.4g}\nHint: the "
                 f"noise is N(0, std^2): mean 0")  # fmt: skip
        sigma.append((std, est, label))
    for std, est, label in sigma:
        if abs(est / std - 1) <= 0.04:
            continue
        hint = "the noise's standard deviation must be std (rng.normal(0.0, std, X.shape))"
        if all(abs(e / np.sqrt(s) - 1) <= 0.04 for s, e, _ in sigma):
            hint = (
                "it is sqrt(std): std is used as the variance (the scale of rng.normal "
                "is the standard deviation)"
            )
        elif all(abs(e / s**2 - 1) <= 0.04 for s, e, _ in sigma):
            hint = "it is std**2: the scale of rng.normal is the standard deviation, std"
        elif len(sigma) > 1 and np.ptp([e / s for s, e, _ in sigma]) < 0.04:
            hint = f"it is {est / std:.3g} x std for every std: a constant factor"
        fail(f"{label}: on mid-grey images the noise has standard deviation {est:.4g}, "
             f"expected {std:g}\nHint: {hint}")  # fmt: skip
    bw = rng.random((n, 28, 28)) < 0.5
    X = _layout(bw.astype(float), flat, dtype)
    std = 0.2
    out, label = im.as_images(run(X, std, seed=15)), run.label(X, std)
    black, white = out[~bw], out[bw]
    if np.mean(black > 0.5) > 0.2:
        fail(f"{label}: {np.mean(black > 0.5):.0%} of the black pixels came out brighter "
             f"than 0.5\nHint: a black pixel with negative noise wrapped around to nearly "
             f"white: integer (uint8) arithmetic overflows modulo 256; add the noise in "
             f"floating point and clip")  # fmt: skip
    for kind, values, edge in (("black", black, 0.0), ("white", white, 1.0)):
        frac = float(np.mean(values == edge))
        if abs(frac - 0.5) > 0.1:
            fail(f"{label}: {frac:.0%} of the {kind} pixels are exactly {edge:g}, about half "
                 f"expected (those whose noise points outside [0, 1])\nHint: clip to [0, 1] "
                 f"(np.clip), do not rescale")  # fmt: skip


_MEASURE = {"add_noise": _noise, "random_shift": _shift, "random_stretch": _stretch,
            "random_rotation": _rotation}  # fmt: skip


def _augment(augment, case: dict, rng) -> None:
    n, flat, dtype = case["n"], case["flat"], case["dtype"]
    X = _layout(rng.random((n, 28, 28)), not flat, dtype)
    y = rng.integers(0, 10, n)
    strengths = {_KW[k]: case[k] for k in _KW}
    shown = ", ".join(f"{k}={v:g}" for k, v in strengths.items())
    for kwargs, text in (({}, "zero strengths"), (strengths, shown)):
        label = f"`augment(X, y, rng, {text or ''})` on X of shape {X.shape} {X.dtype}"
        got = call_student(augment, X, y, np.random.default_rng(21), label=label,
                           hint=_error_hint, **kwargs)  # fmt: skip
        if not isinstance(got, tuple | list) or len(got) != 2:
            fail(f"{label} returned {type(got).__name__}, expected the pair (X_aug, y_aug)")
        X_aug, y_aug = output(got[0], X, label), to_array(got[1], "y_aug")
        if y_aug.shape != y.shape or not np.array_equal(y_aug, y):
            same = y_aug.shape == y.shape and np.array_equal(np.sort(y_aug), np.sort(y))
            how = " (the same labels in another order)" if same else ""
            fail(f"{label}: y_aug is not y{how}\nHint: augment changes the images only: "
                 f"return y unchanged, in the same order (X_aug[i] is image i "
                 f"augmented)")  # fmt: skip
        if not kwargs and np.abs(X_aug.astype(np.float64) - X).max() > 1e-6:
            fail(f"{label}: X_aug differs from X\nHint: with every strength 0 augment "
                 f"returns X's values, image i at row i")  # fmt: skip
    imgs = im.as_images(X_aug)
    border = np.concatenate([imgs[:, [0, -1], :], imgs[:, :, [0, -1]].transpose(0, 2, 1)], 1)
    if np.any(np.all(border == 0, axis=2)):
        fail(f"{label}: some images have a border row or column that is exactly 0\nHint: "
             f"the noise must come last (stretch, rotation, shift, noise): the rows a shift "
             f"brings in are noisy too")  # fmt: skip
    for name, kw in _KW.items():
        run = _Runner(augment, name, kw)
        strength = case[name] if name != "add_noise" else case["noise_stds"]
        _MEASURE[name](run, strength, n, flat, dtype, rng)


def _preamble(fns) -> None:
    for fn, name in zip(fns, _NAMES, strict=True):
        expect_callable(fn, name)
        forbid_library(fn, name, "write the transform with NumPy and scipy.ndimage")


def _run_case(fns, case: dict, seed: int) -> None:
    _preamble(fns)
    rng = np.random.default_rng(seed)
    for fn, name in zip(fns[:4], _NAMES[:4], strict=True):
        run = _Runner(fn, name)
        strength = case[name] if name != "add_noise" else case["noise_stds"]
        _generic(run, strength if name != "add_noise" else strength[0], case["n"],
                 not case["flat"], np.float64 if case["dtype"] == np.float32 else np.float32,
                 rng)  # fmt: skip
        _MEASURE[name](run, strength, case["n"], case["flat"], case["dtype"], rng)
    _augment(fns[4], case, rng)


VISIBLE = {"n": 200, "flat": False, "dtype": np.float32, "add_noise": 0.1,
           "noise_stds": (0.1, 0.2), "random_shift": 2, "random_stretch": 0.2,
           "random_rotation": 15.0}  # fmt: skip


def hidden_case(rng) -> dict:
    """Random sizes, layout, dtype and strengths (fixed seed: the same at every regrade)."""
    std = float(np.round(rng.uniform(0.05, 0.12), 3))
    return {
        "n": int(rng.integers(180, 260)),
        "flat": bool(rng.integers(2)),
        "dtype": (np.float32, np.float64)[int(rng.integers(2))],
        "add_noise": std,
        "noise_stds": (std, float(np.round(rng.uniform(0.15, 0.25), 3))),
        "random_shift": int(rng.integers(1, 5)),
        "random_stretch": float(np.round(rng.uniform(0.1, 0.3), 3)),
        "random_rotation": float(np.round(rng.uniform(8, 30), 1)),
    }


@check
def check_augmentation(add_noise, random_shift, random_stretch, random_rotation, augment):
    """Visible: 200 images (N, 28, 28) float32 (and (N, 784) float64 for the form)."""
    _run_case((add_noise, random_shift, random_stretch, random_rotation, augment), VISIBLE, 9)


@check
def check_augmentation_hidden(add_noise, random_shift, random_stretch, random_rotation,
                              augment):  # fmt: skip
    """Hidden: random N, layout, dtype and strengths."""
    case = hidden_case(np.random.default_rng(5109))
    _run_case((add_noise, random_shift, random_stretch, random_rotation, augment), case, 19)


seal(__name__)
