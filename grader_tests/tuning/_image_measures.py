"""Measurements of 28x28 images for the augmentation checks (helpers, not checks).

They read only arrays (copies of what student code returned) and measure what a
transform did, whatever code did it:

- ``match_shifts``: for each image, the whole-pixel shift (dy, dx) that turns the input
  into the output exactly, with zeros shifted in (or, to name a wrap-around, with
  ``np.roll``'s wrap);
- ``moments``: each image's ink (sum of pixel values), centre of mass and second central
  moments; from them the per-axis scale of a centred blob (``sqrt`` of the variance ratio)
  and the orientation of a bar (its principal axis);
- ``bar_images``: bars placed off the centre, turned 45 degrees from the line to the
  centre, so that one image shows a rotation twice: the bar's position around the centre
  turns by the angle, and so does its axis; a reflection turns them by different angles
  (by 90 degrees apart for this placement), which is how a mirror image is told from a
  rotation.

Pixel centres are 0..27, so the image centre is (13.5, 13.5), as scipy.ndimage rotates.
"""

from __future__ import annotations

import numpy as np

from course_utils.grading import seal

CENTRE = 13.5
SIDE = 28


def as_images(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64).reshape(-1, SIDE, SIDE)


def shifted(imgs: np.ndarray, dy: int, dx: int, wrap: bool = False) -> np.ndarray:
    """``imgs`` moved down by dy and right by dx pixels, zeros shifted in (or wrapped)."""
    if wrap:
        return np.roll(imgs, (dy, dx), axis=(1, 2))
    out = np.zeros_like(imgs)
    if abs(dy) >= SIDE or abs(dx) >= SIDE:
        return out
    dst_y, src_y = slice(max(dy, 0), SIDE + min(dy, 0)), slice(max(-dy, 0), SIDE + min(-dy, 0))
    dst_x, src_x = slice(max(dx, 0), SIDE + min(dx, 0)), slice(max(-dx, 0), SIDE + min(-dx, 0))
    out[:, dst_y, dst_x] = imgs[:, src_y, src_x]
    return out


def match_shifts(x: np.ndarray, out: np.ndarray, reach: int, wrap: bool = False, tol=1e-6):
    """(dy, dx) per image for which ``out == shifted(x, dy, dx)`` within ``tol`` (searched
    in [-reach, reach]), and a mask of the images that matched."""
    best_err = np.full(len(x), np.inf)
    best = np.zeros((len(x), 2), dtype=int)
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            err = np.abs(out - shifted(x, dy, dx, wrap)).reshape(len(x), -1).max(axis=1)
            better = err < best_err
            best_err[better] = err[better]
            best[better] = (dy, dx)
    return best, best_err <= tol


_YY, _XX = np.mgrid[0:SIDE, 0:SIDE].astype(np.float64)


def moments(imgs: np.ndarray) -> dict:
    """Per image: ink, centre (cy, cx), variances vyy, vxx and covariance vxy."""
    ink = imgs.sum(axis=(1, 2))
    safe = np.where(ink > 0, ink, 1.0)
    cy = (imgs * _YY).sum(axis=(1, 2)) / safe
    cx = (imgs * _XX).sum(axis=(1, 2)) / safe
    dy, dx = _YY[None] - cy[:, None, None], _XX[None] - cx[:, None, None]
    return {
        "ink": ink,
        "cy": cy,
        "cx": cx,
        "vyy": (imgs * dy * dy).sum(axis=(1, 2)) / safe,
        "vxx": (imgs * dx * dx).sum(axis=(1, 2)) / safe,
        "vxy": (imgs * dy * dx).sum(axis=(1, 2)) / safe,
    }


def blob_images(n: int, sigma_y: float = 3.0, sigma_x: float = 2.8) -> np.ndarray:
    """A centred Gaussian blob, the same in every image (its scale is easy to measure)."""
    g = np.exp(-((_YY - CENTRE) ** 2) / (2 * sigma_y**2) - (_XX - CENTRE) ** 2 / (2 * sigma_x**2))
    return np.repeat(g[None], n, axis=0)


def bar_images(rng: np.random.Generator, n: int, radius: float = 3.5) -> np.ndarray:
    """Per image a bar (Gaussian, sigma 3 along, 1.2 across) centred ``radius`` pixels
    from the image centre in a random direction, its axis 45 degrees from that direction.
    Every point of it stays inside the frame at any rotation about the centre."""
    beta = rng.uniform(0, 2 * np.pi, n)
    theta = beta + np.pi / 4
    py, px = CENTRE + radius * np.sin(beta), CENTRE + radius * np.cos(beta)
    dy, dx = _YY[None] - py[:, None, None], _XX[None] - px[:, None, None]
    along = dx * np.cos(theta)[:, None, None] + dy * np.sin(theta)[:, None, None]
    across = -dx * np.sin(theta)[:, None, None] + dy * np.cos(theta)[:, None, None]
    return np.exp(-(along**2) / (2 * 3.0**2) - across**2 / (2 * 1.2**2))


def wrap_degrees(a: np.ndarray, period: float = 360.0) -> np.ndarray:
    return (a + period / 2) % period - period / 2


def bar_pose(m: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(direction of the centre of mass seen from the image centre, in degrees; its
    distance; the bar's axis, in degrees modulo 180)."""
    ry, rx = m["cy"] - CENTRE, m["cx"] - CENTRE
    position = np.degrees(np.arctan2(ry, rx))
    axis = np.degrees(0.5 * np.arctan2(2 * m["vxy"], m["vxx"] - m["vyy"]))
    return position, np.hypot(ry, rx), axis


def rotation_of(x_imgs: np.ndarray, out_imgs: np.ndarray) -> dict:
    """How each bar image was turned: ``angle`` (of its position about the centre),
    ``mirror`` (the turn of its axis minus the turn of its position: 0 for a rotation,
    +-90 for a reflection), ``moved`` (change of its distance from the centre)."""
    before, after = moments(x_imgs), moments(out_imgs)
    p0, r0, a0 = bar_pose(before)
    p1, r1, a1 = bar_pose(after)
    angle = wrap_degrees(p1 - p0)
    mirror = wrap_degrees(wrap_degrees(a1 - a0, 180.0) - angle, 180.0)
    return {
        "angle": angle,
        "mirror": mirror,
        "moved": r1 - r0,
        "ink": after["ink"] / before["ink"],
    }


def scale_of(x_imgs: np.ndarray, out_imgs: np.ndarray) -> dict:
    """Per image: scale factors (sy, sx) of a centred blob and where its centre went."""
    before, after = moments(x_imgs), moments(out_imgs)
    with np.errstate(all="ignore"):
        sy = np.sqrt(after["vyy"] / before["vyy"])
        sx = np.sqrt(after["vxx"] / before["vxx"])
    return {
        "sy": sy,
        "sx": sx,
        "cy": after["cy"],
        "cx": after["cx"],
        "ink": after["ink"] / before["ink"],
    }


seal(__name__)
