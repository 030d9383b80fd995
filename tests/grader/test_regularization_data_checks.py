"""Grader self-tests for grader_tests.tuning's tasks 9-11 (regularization.ipynb:
augmentation, class weights and the class-weighted cross-entropy, fine-tuning).

Every check passes the model answer and two alternative correct implementations, prints
exactly one line and nothing on stderr, and rejects each known-wrong implementation of the
catalogue ``wrong/regularization_data_wrong.py`` with the expected diagnosis in its
message, in the student's process and through the grading link (``remote_kernel``). The
checks' references are confirmed: class weights are sklearn's
``compute_class_weight("balanced")``, the weighted loss is Keras'
``CategoricalCrossentropy(from_logits=True)`` with ``sample_weight=weights[y]``, and the
image measurements recover known shifts, factors and angles within the tolerances the
checks state.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grader_tests import tuning

from catalogue_suite import catalogue_suite

_NAMES = {
    "augmentation": ("AUGMENTATION_CORRECT", "AUGMENTATION_WRONG"),
    "class_weights": ("CLASS_WEIGHTS_CORRECT", "CLASS_WEIGHTS_WRONG"),
    "weighted_cross_entropy": ("WEIGHTED_CROSS_ENTROPY_CORRECT", "WEIGHTED_CROSS_ENTROPY_WRONG"),
    "fine_tune": ("FINE_TUNE_CORRECT", "FINE_TUNE_WRONG"),
}
suite = catalogue_suite(
    tuning,
    Path(__file__).parent / "wrong" / "regularization_data_wrong.py",
    _NAMES,
    hint_given=lambda name, message: "Hint:" in message or "Work on a copy instead" in message,
)
catalogue, catalogue_server, cat = suite.catalogue, suite.catalogue_server, suite.cat
TASKS, _tasks = suite.TASKS, suite.tasks
test_check_passes_correct_implementations = suite.test_passes
test_check_rejects_wrong_implementation_with_diagnosis = suite.test_rejects


def test_every_task_has_a_catalogue():
    names = {n for n in dir(tuning) if n.startswith("check_")}
    assert {f"check_{t}{s}" for t in TASKS for s in ("", "_hidden")} <= names
    for correct, wrong in TASKS.values():
        assert len(correct) >= 3
        assert wrong
    assert sum(len(wrong) for _, wrong in TASKS.values()) >= 25


# --- the references ---------------------------------------------------------------------
def _class_weight_cases():
    from grader_tests.tuning import class_weights as cw

    rng = np.random.default_rng(0)
    for _ in range(20):
        c = int(rng.integers(2, 12))
        y = rng.integers(0, c, int(rng.integers(c, 300)))
        y[:c] = np.arange(c)
        yield cw, y, c


def test_class_weights_reference_is_sklearn_balanced():
    from sklearn.utils.class_weight import compute_class_weight

    for cw, y, c in _class_weight_cases():
        want = compute_class_weight("balanced", classes=np.arange(c), y=y)
        np.testing.assert_allclose(cw.reference_weights(y, c), want, rtol=1e-12)


def test_weighted_loss_reference_is_keras_sample_weighted_sum_over_batch_size():
    """Keras divides the weighted sum by N (not by the sum of the weights); its gradient
    w.r.t. the logits is the checks' reference_grad (float64 tensors)."""
    from course_utils.environment import import_tensorflow
    from grader_tests.tuning import class_weights as cw

    tf = import_tensorflow()
    import keras

    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True, dtype="float64")
    rng = np.random.default_rng(1)
    for z, y, w in cw._cases(rng, [(8, 4), (30, 7), (5, 3)]):
        logits = tf.Variable(z, dtype=tf.float64)
        with tf.GradientTape() as tape:
            loss = loss_fn(np.eye(z.shape[1])[y], logits, sample_weight=w[y])
        grad = tape.gradient(loss, logits).numpy()
        assert abs(float(loss) - cw.reference_loss(z, y, w)) <= 1e-12 * abs(float(loss))
        np.testing.assert_allclose(grad, cw.reference_grad(z, y, w), rtol=1e-9, atol=1e-15)


def test_shift_measurement_recovers_the_shifts_and_tells_a_wrap_around():
    from grader_tests.tuning import _image_measures as im

    rng = np.random.default_rng(2)
    x = rng.random((30, 28, 28))
    shifts = rng.integers(-4, 5, (30, 2))
    out = np.stack([im.shifted(x[i : i + 1], *s)[0] for i, s in enumerate(shifts)])
    found, ok = im.match_shifts(x, out, 6)
    assert ok.all() and np.array_equal(found, shifts)
    rolled = np.stack([np.roll(x[i], tuple(s), axis=(0, 1)) for i, s in enumerate(shifts)])
    moved = np.any(shifts != 0, axis=1)
    assert not im.match_shifts(x, rolled, 6)[1][moved].any()
    assert im.match_shifts(x, rolled, 6, wrap=True)[1].all()


def test_scale_and_rotation_measurements_are_within_the_stated_tolerances():
    """scipy's zoom about the centre and rotate: the measured factor within 0.02 (the
    checks allow 0.04), the centre within 0.01 pixel (0.5 allowed), the angle within 0.2
    degree (1 allowed), the mirror term within 1 degree (10 allowed; 90 for a transpose)."""
    from scipy import ndimage

    from grader_tests.tuning import _image_measures as im

    rng = np.random.default_rng(3)
    blob = im.blob_images(100)
    s = rng.uniform(0.7, 1.3, (100, 2))
    c = im.CENTRE
    out = np.stack([ndimage.affine_transform(b, 1 / f, offset=c - c / f, order=1)
                    for b, f in zip(blob, s, strict=True)])  # fmt: skip
    q = im.scale_of(blob, out)
    assert np.abs(q["sy"] - s[:, 0]).max() < 0.02 and np.abs(q["sx"] - s[:, 1]).max() < 0.02
    assert np.abs(q["cy"] - c).max() < 0.01 and np.abs(q["cx"] - c).max() < 0.01
    bars = im.bar_images(rng, 100)
    angles = rng.uniform(-30, 30, 100)
    out = np.stack([ndimage.rotate(b, a, reshape=False, order=1)
                    for b, a in zip(bars, angles, strict=True)])  # fmt: skip
    r = im.rotation_of(bars, out)
    assert np.abs(np.abs(r["angle"]) - np.abs(angles)).max() < 0.2
    assert abs(abs(np.corrcoef(r["angle"], angles)[0, 1]) - 1) < 1e-4
    assert np.abs(r["mirror"]).max() < 1 and np.abs(r["moved"]).max() < 0.05
    assert np.abs(np.abs(im.rotation_of(bars, bars.transpose(0, 2, 1))["mirror"]) - 90).max() < 1


def test_noise_estimate_ignores_clipping():
    """1.4826 x median |noise| of mid-grey images clipped to [0, 1] is std within 1 %."""
    from grader_tests.tuning import augmentation as aug

    rng = np.random.default_rng(4)
    for std in (0.05, 0.2, 0.5):
        out = np.clip(0.5 + rng.normal(0, std, (200, 784)), 0, 1)
        assert abs(np.median(np.abs(out - 0.5)) / aug._MAD / std - 1) < 0.01


def test_fine_tune_task_is_learnable_by_the_last_layer_and_pretrained_on_the_old_labels():
    from grader_tests.tuning import fine_tuning as ft

    data = ft.task(np.random.default_rng(11), 2000, 64)
    old = (data["y"] - 1) % 10
    assert ft.loss_of(data["weights"], data["X"], old) < 0.5
    assert ft.loss_of(data["weights"], data["X"], data["y"]) > 2.0
