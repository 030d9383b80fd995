"""Implementations of 07_tuning's tasks 3-5 (optimisers, schedules, early stopping):
correct ones and known-wrong ones.

For each task, ``*_CORRECT`` lists alternative correct implementations every check must
accept (the model answer first), and ``*_WRONG`` maps a name to (implementation, regex the
failure message must match, checks that must reject it). The mistakes are the ones
students make with momentum, Nesterov, RMSprop and Adam update rules, learning-rate
schedules and early stopping.
"""

from __future__ import annotations

import math

import numpy as np

MOM_BOTH = ("check_sgd_momentum", "check_sgd_momentum_hidden")
NAG_BOTH = ("check_nesterov", "check_nesterov_hidden")
RMS_BOTH = ("check_rmsprop", "check_rmsprop_hidden")
ADAM_BOTH = ("check_adam", "check_adam_hidden")
# The hint given when no structural diagnosis is confirmed over all the steps compared: it
# describes what is seen and names no cause (none of the checks' diagnoses appears in it).
NEUTRAL_HINT = (
    r"(?s)^(?!.*(eps acts|which beta|bias correction|bias-corrected|not carried|carries over"
    r"|constant factor|step counter|look-ahead momentum))"
    r"(?=.*No single slip in the formula explains all \d+ steps.*Keras' update equations)"
)


# =========================================================================================
# Task 3: optimisers as update rules (w, dw, state) -> (w_new, state)
# =========================================================================================
def sgd_momentum(w, dw, state=None, *, lr=0.01, momentum=0.9):
    v = np.zeros_like(w) if state is None else state["v"]
    v = momentum * v - lr * dw
    return w + v, {"v": v}


def sgd_momentum_torch_style(w, dw, state=None, *, lr=0.01, momentum=0.9):
    """PyTorch's convention: the velocity accumulates gradients, lr scales the step
    (the same trajectory for a constant lr)."""
    b = np.zeros_like(w) if state is None else state
    b = momentum * b + dw
    return w - lr * b, b


def sgd_momentum_in_place_state(w, dw, state=None, *, lr=0.01, momentum=0.9):
    """The state (a list) updated in place and returned: allowed, the caller passes it back."""
    if state is None:
        state = [np.zeros_like(w)]
    state[0] *= momentum
    state[0] -= lr * dw
    return w + state[0], state


def nesterov(w, dw, state=None, *, lr=0.01, momentum=0.9):
    v = np.zeros_like(w) if state is None else state["v"]
    v = momentum * v - lr * dw
    return w + momentum * v - lr * dw, {"v": v}


def nesterov_cs231n(w, dw, state=None, *, lr=0.01, momentum=0.9):
    """CS231n's form: w += -momentum * v_prev + (1 + momentum) * v."""
    v_prev = np.zeros_like(w) if state is None else state
    v = momentum * v_prev - lr * dw
    return w - momentum * v_prev + (1 + momentum) * v, v


def nesterov_tuple_state(w, dw, state=None, *, lr=0.01, momentum=0.9):
    (v,) = state if state is not None else (np.zeros_like(w),)
    step = lr * dw
    v = v * momentum - step
    return w + (v * momentum - step), (v,)


def rmsprop(w, dw, state=None, *, lr=0.001, rho=0.9, epsilon=1e-7):
    s = np.zeros_like(w) if state is None else state["s"]
    s = rho * s + (1 - rho) * dw**2
    return w - lr * dw / np.sqrt(s + epsilon), {"s": s}


def rmsprop_float32_aware(w, dw, state=None, *, lr=0.001, rho=0.9, epsilon=1e-7):
    """Computes in w's dtype throughout (as Keras on float32 variables)."""
    s = np.zeros(w.shape, dtype=w.dtype) if state is None else state
    dw = dw.astype(w.dtype)
    s = s + (1 - rho) * (np.square(dw) - s)
    return (w - lr * dw / np.sqrt(s + epsilon)).astype(w.dtype), s


def rmsprop_dict_keys(w, dw, state=None, *, lr=0.001, rho=0.9, epsilon=1e-7):
    state = dict(state or {"mean_square": np.zeros_like(w)})
    state["mean_square"] = rho * state["mean_square"] + (1 - rho) * dw * dw
    update = lr * dw / (state["mean_square"] + epsilon) ** 0.5
    return w - update, state


def adam(w, dw, state=None, *, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    if state is None:
        state = {"m": np.zeros_like(w), "v": np.zeros_like(w), "t": 0}
    t = state["t"] + 1
    m = beta_1 * state["m"] + (1 - beta_1) * dw
    v = beta_2 * state["v"] + (1 - beta_2) * dw**2
    lr_t = lr * math.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    return w - lr_t * m / (np.sqrt(v) + epsilon), {"m": m, "v": v, "t": t}


def adam_keras_float32(w, dw, state=None, *, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Keras' own arithmetic: float32 learning rate, beta powers and step size."""
    m, v, t = state if state is not None else (np.zeros_like(w), np.zeros_like(w), 0)
    t += 1
    f32 = np.float32
    lr_t = f32(lr) * np.sqrt(f32(1) - f32(beta_2) ** f32(t)) / (f32(1) - f32(beta_1) ** f32(t))
    m = m + (dw - m) * (1 - beta_1)
    v = v + (np.square(dw) - v) * (1 - beta_2)
    return w - (m * lr_t / (np.sqrt(v) + epsilon)).astype(w.dtype), (m, v, t)


def adam_eps_hat(w, dw, state=None, *, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Bias-corrected moments with Keras' "epsilon hat": eps scaled by sqrt(1 - beta_2**t)."""
    m, v, t = (np.zeros_like(w), np.zeros_like(w), 0) if state is None else state
    t += 1
    m = beta_1 * m + (1 - beta_1) * dw
    v = beta_2 * v + (1 - beta_2) * dw * dw
    m_hat, v_hat = m / (1 - beta_1**t), v / (1 - beta_2**t)
    eps_hat = epsilon / math.sqrt(1 - beta_2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps_hat), (m, v, t)


# --- wrong optimisers ---
def momentum_uphill(w, dw, state=None, *, lr=0.01, momentum=0.9):
    v = np.zeros_like(w) if state is None else state
    v = momentum * v - lr * dw
    return w - v, v  # velocity already points downhill


def momentum_dampened(w, dw, state=None, *, lr=0.01, momentum=0.9):
    v = np.zeros_like(w) if state is None else state
    v = momentum * v + (1 - momentum) * dw  # an exponential average of gradients
    return w - lr * v, v


def momentum_twice(w, dw, state=None, *, lr=0.01, momentum=0.9):
    v = np.zeros_like(w) if state is None else state
    v = momentum * v
    v = momentum * v - lr * dw
    return w + v, v


def momentum_forgets(w, dw, state=None, *, lr=0.01, momentum=0.9):
    v = np.zeros_like(w)  # state ignored: a fresh velocity each call
    v = momentum * v - lr * dw
    return w + v, v


_GLOBAL_VELOCITY = {}


def momentum_global_velocity(w, dw, state=None, *, lr=0.01, momentum=0.9):
    if state is None:
        _GLOBAL_VELOCITY["v"] = np.zeros_like(w)
    _GLOBAL_VELOCITY["v"] = momentum * _GLOBAL_VELOCITY["v"] - lr * dw
    return w + _GLOBAL_VELOCITY["v"], "unused"


def momentum_in_place(w, dw, state=None, *, lr=0.01, momentum=0.9):
    v = np.zeros_like(w) if state is None else state
    v = momentum * v - lr * dw
    w += v
    return w, v


def momentum_float64_state(w, dw, state=None, *, lr=0.01, momentum=0.9):
    v = np.zeros(w.shape) if state is None else state  # float64 whatever w is
    v = momentum * v - lr * dw
    return w + v, v


def momentum_lr_default(w, dw, state=None, *, lr=0.001, momentum=0.9):
    v = np.zeros_like(w) if state is None else state
    v = momentum * v - lr * dw
    return w + v, v


def nesterov_plain(w, dw, state=None, *, lr=0.01, momentum=0.9):
    v = np.zeros_like(w) if state is None else state
    v = momentum * v - lr * dw
    return w + v, v


def nesterov_old_velocity(w, dw, state=None, *, lr=0.01, momentum=0.9):
    v_prev = np.zeros_like(w) if state is None else state
    v = momentum * v_prev - lr * dw
    return w + momentum * v_prev - lr * dw, v  # the look-ahead with the OLD velocity


def nesterov_momentum_squared(w, dw, state=None, *, lr=0.01, momentum=0.9):
    v = np.zeros_like(w) if state is None else state
    v = momentum * v - lr * dw
    return w + momentum * (momentum * v - lr * dw), v


def nesterov_returns_update(w, dw, state=None, *, lr=0.01, momentum=0.9):
    v = np.zeros_like(w) if state is None else state
    v = momentum * v - lr * dw
    update = momentum * v - lr * dw
    return w + update, update  # the step applied kept as the velocity


def rmsprop_no_sqrt(w, dw, state=None, *, lr=0.001, rho=0.9, epsilon=1e-7):
    s = np.zeros_like(w) if state is None else state
    s = rho * s + (1 - rho) * dw**2
    return w - lr * dw / (s + epsilon), s


def rmsprop_eps_outside(w, dw, state=None, *, lr=0.001, rho=0.9, epsilon=1e-7):
    s = np.zeros_like(w) if state is None else state
    s = rho * s + (1 - rho) * dw**2
    return w - lr * dw / (np.sqrt(s) + epsilon), s


def rmsprop_rho_swapped(w, dw, state=None, *, lr=0.001, rho=0.9, epsilon=1e-7):
    s = np.zeros_like(w) if state is None else state
    s = (1 - rho) * s + rho * dw**2
    return w - lr * dw / np.sqrt(s + epsilon), s


def rmsprop_forgets(w, dw, state=None, *, lr=0.001, rho=0.9, epsilon=1e-7):
    s = (1 - rho) * dw**2  # the running average restarted at every call
    return w - lr * dw / np.sqrt(s + epsilon), s


def rmsprop_abs(w, dw, state=None, *, lr=0.001, rho=0.9, epsilon=1e-7):
    s = np.zeros_like(w) if state is None else state
    s = rho * s + (1 - rho) * np.abs(dw)  # mean of |g| instead of g**2
    return w - lr * dw / np.sqrt(s + epsilon), s


def adam_no_bias_correction(w, dw, state=None, *, lr=0.001, beta_1=0.9, beta_2=0.999,
                            epsilon=1e-7):  # fmt: skip
    m, v = (np.zeros_like(w), np.zeros_like(w)) if state is None else state
    m = beta_1 * m + (1 - beta_1) * dw
    v = beta_2 * v + (1 - beta_2) * dw**2
    return w - lr * m / (np.sqrt(v) + epsilon), (m, v)


def adam_t_from_zero(w, dw, state=None, *, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    m, v, t = (np.zeros_like(w), np.zeros_like(w), 0) if state is None else state
    m = beta_1 * m + (1 - beta_1) * dw
    v = beta_2 * v + (1 - beta_2) * dw**2
    lr_t = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)  # t still 0 at the first step
    return w - lr_t * m / (np.sqrt(v) + epsilon), (m, v, t + 1)


def adam_t_not_saved(w, dw, state=None, *, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    m, v, t = (np.zeros_like(w), np.zeros_like(w), 0) if state is None else state
    t_now = t + 1
    m = beta_1 * m + (1 - beta_1) * dw
    v = beta_2 * v + (1 - beta_2) * dw**2
    lr_t = lr * math.sqrt(1 - beta_2**t_now) / (1 - beta_1**t_now)
    return w - lr_t * m / (np.sqrt(v) + epsilon), (m, v, t)  # the old t saved


def adam_t_twice(w, dw, state=None, *, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    m, v, t = (np.zeros_like(w), np.zeros_like(w), 0) if state is None else state
    t += 1
    m = beta_1 * m + (1 - beta_1) * dw
    v = beta_2 * v + (1 - beta_2) * dw**2
    lr_t = lr * math.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    t += 1  # counted again "at the end of the step"
    return w - lr_t * m / (np.sqrt(v) + epsilon), (m, v, t)


def adam_eps_inside(w, dw, state=None, *, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    m, v, t = (np.zeros_like(w), np.zeros_like(w), 0) if state is None else state
    t += 1
    m = beta_1 * m + (1 - beta_1) * dw
    v = beta_2 * v + (1 - beta_2) * dw**2
    lr_t = lr * math.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    return w - lr_t * m / np.sqrt(v + epsilon), (m, v, t)


def adam_textbook_eps(w, dw, state=None, *, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Algorithm 1 of Kingma & Ba: eps added to sqrt(v_hat), not Keras' sqrt(v)."""
    m, v, t = (np.zeros_like(w), np.zeros_like(w), 0) if state is None else state
    t += 1
    m = beta_1 * m + (1 - beta_1) * dw
    v = beta_2 * v + (1 - beta_2) * dw**2
    m_hat, v_hat = m / (1 - beta_1**t), v / (1 - beta_2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + epsilon), (m, v, t)


def adam_betas_swapped(w, dw, state=None, *, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    m, v, t = (np.zeros_like(w), np.zeros_like(w), 0) if state is None else state
    t += 1
    m = beta_2 * m + (1 - beta_2) * dw
    v = beta_1 * v + (1 - beta_1) * dw**2
    lr_t = lr * math.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    return w - lr_t * m / (np.sqrt(v) + epsilon), (m, v, t)


_ADAM_T = [0]


def adam_global_t(w, dw, state=None, *, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    if state is None:
        _ADAM_T[0] = 0
        state = (np.zeros_like(w), np.zeros_like(w))
    m, v = state
    _ADAM_T[0] += 1  # one counter for every parameter
    t = _ADAM_T[0]
    m = beta_1 * m + (1 - beta_1) * dw
    v = beta_2 * v + (1 - beta_2) * dw**2
    lr_t = lr * math.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    return w - lr_t * m / (np.sqrt(v) + epsilon), (m, v)


def adam_keeps_corrected_moments(w, dw, state=None, *, lr=0.001, beta_1=0.9, beta_2=0.999,
                                 epsilon=1e-7):  # fmt: skip
    m, v, t = (np.zeros_like(w), np.zeros_like(w), 0) if state is None else state
    t += 1
    m = (beta_1 * m + (1 - beta_1) * dw) / (1 - beta_1**t)
    v = (beta_2 * v + (1 - beta_2) * dw**2) / (1 - beta_2**t)
    eps_hat = epsilon / math.sqrt(1 - beta_2**t)  # eps where Keras puts it
    return w - lr * m / (np.sqrt(v) + eps_hat), (m, v, t)  # m_hat, v_hat carried over


def adam_float32_cast(w, dw, state=None, *, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    w_new, state = adam(w, dw, state, lr=lr, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)
    return w_new.astype(np.float32), state


# --- first step right (or almost), later steps wrong: no structural diagnosis fits ---
def momentum_decays_by_one_minus(w, dw, state=None, *, lr=0.01, momentum=0.9):
    v = np.zeros_like(w) if state is None else state
    v = (1 - momentum) * v - lr * dw  # the velocity decays by 1 - momentum
    return w + v, v


def nesterov_lookahead_old_velocity(w, dw, state=None, *, lr=0.01, momentum=0.9):
    v_prev = np.zeros_like(w) if state is None else state
    v = momentum * v_prev - lr * dw
    return w + v + momentum * (v_prev - lr * dw), v  # the look-ahead from the OLD velocity


def rmsprop_rho_on_new_square(w, dw, state=None, *, lr=0.001, rho=0.9, epsilon=1e-7):
    if state is None:
        s = (1 - rho) * dw**2  # Keras' first value (from s = 0)
    else:
        s = (1 - rho) * state + rho * dw**2  # rho on the new g², not on the average
    return w - lr * dw / np.sqrt(s + epsilon), s


def adam_betas_exchanged(w, dw, state=None, *, lr=0.001, beta_1=0.9, beta_2=0.999,
                         epsilon=1e-7):  # fmt: skip
    """Keras' Adam with the two betas exchanged: the bias correction hides it at t = 1
    (only eps' effect differs), from t = 2 on the trajectory is far off."""
    beta_1, beta_2 = beta_2, beta_1
    m, v, t = (np.zeros_like(w), np.zeros_like(w), 0) if state is None else state
    t += 1
    m = beta_1 * m + (1 - beta_1) * dw
    v = beta_2 * v + (1 - beta_2) * dw**2
    lr_t = lr * math.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    return w - lr_t * m / (np.sqrt(v) + epsilon), (m, v, t)


SGD_MOMENTUM_CORRECT = [sgd_momentum, sgd_momentum_torch_style, sgd_momentum_in_place_state]
NESTEROV_CORRECT = [nesterov, nesterov_cs231n, nesterov_tuple_state]
RMSPROP_CORRECT = [rmsprop, rmsprop_float32_aware, rmsprop_dict_keys]
ADAM_CORRECT = [adam, adam_keras_float32, adam_eps_hat]

SGD_MOMENTUM_WRONG = {
    "velocity_sign_flipped": (momentum_uphill, r"FIRST step.*goes uphill", MOM_BOTH),
    "dampened": (
        momentum_dampened,
        r"FIRST step.*it is 1 - momentum = 0\.\d+ × Keras' step",
        MOM_BOTH,
    ),
    "momentum_twice": (
        momentum_twice,
        r"momentum² = [\d.]+ × the previous one, where Keras' is momentum =",
        MOM_BOTH,
    ),
    "forgets_velocity": (
        momentum_forgets,
        r"next step is 0: the velocity is not carried",
        MOM_BOTH,
    ),  # fmt: skip
    "global_velocity": (momentum_global_velocity, r"ALONE.*no global variables", MOM_BOTH),
    "w_in_place": (momentum_in_place, r"modified its argument `w` in place", MOM_BOTH),
    "float64_state": (
        momentum_float64_state,
        r"(?s)came back as float64.*np.zeros_like",
        MOM_BOTH,
    ),  # fmt: skip
    "lr_default": (momentum_lr_default, r"a default is not.*lr=0\.01", ("check_sgd_momentum",)),
    "velocity_decays_by_one_minus": (
        momentum_decays_by_one_minus,
        r"next step is 1 - momentum = [\d.]+ × the previous one, where Keras' is momentum",
        MOM_BOTH,
    ),
}
NESTEROV_WRONG = {
    "plain_momentum": (nesterov_plain, r"plain momentum's first step.*look-ahead", NAG_BOTH),
    "old_velocity": (nesterov_old_velocity, r"plain momentum's first step", NAG_BOTH),
    "momentum_squared": (nesterov_momentum_squared, r"FIRST step.*momentum", NAG_BOTH),
    "update_kept_as_velocity": (
        nesterov_returns_update,
        r"next step is momentum² = [\d.]+ × the previous one.*not the step you applied",
        NAG_BOTH,
    ),
    "lookahead_old_velocity": (
        nesterov_lookahead_old_velocity,
        NEUTRAL_HINT + r"(?=.*first step agrees with Keras.*step 2 is the first)",
        NAG_BOTH,
    ),
}
RMSPROP_WRONG = {
    "no_sqrt": (rmsprop_no_sqrt, r"grows like \|dw\|\^-1\.00.*square ROOT", RMS_BOTH),
    "eps_outside_sqrt": (
        rmsprop_eps_outside,
        r"where eps acts.*epsilon INSIDE the square root.*outside",
        RMS_BOTH,
    ),  # fmt: skip
    "rho_swapped": (
        rmsprop_rho_swapped,
        NEUTRAL_HINT + r"(?=.*FIRST step.*it is sqrt\(\(1 - rho\) / rho\) = .*later steps "
        r"are not that multiple)",  # step 1 only: not a constant factor at later steps
        RMS_BOTH,
    ),
    "forgets_mean_square": (rmsprop_forgets, r"THIS gradient alone.*not carried", RMS_BOTH),
    "abs_not_square": (rmsprop_abs, r"grows like \|dw\|\^0\.50.*square ROOT", RMS_BOTH),
    "rho_on_new_square": (
        rmsprop_rho_on_new_square,
        NEUTRAL_HINT + r"(?=.*first step agrees with Keras.*step 2 is the first)",
        RMS_BOTH,
    ),
}
ADAM_WRONG = {
    "no_bias_correction": (adam_no_bias_correction, r"WITHOUT bias correction", ADAM_BOTH),
    "t_from_zero": (adam_t_from_zero, r"(?s)nan or inf.*t \+= 1 BEFORE", ADAM_BOTH),
    "t_not_saved": (
        adam_t_not_saved,
        r"uses t = 1, 1, 1, 1, 1, 1: the step counter runs wrong",
        ADAM_BOTH,
    ),
    "t_twice": (
        adam_t_twice,
        r"uses t = 1, 3, 5, 7, 9, 11: the step counter runs wrong",
        ADAM_BOTH,
    ),
    "eps_inside_sqrt": (
        adam_eps_inside,
        r"FIRST step.*where eps acts.*not sqrt\(v \+ eps\)",
        ADAM_BOTH,
    ),  # fmt: skip
    "textbook_eps": (
        adam_textbook_eps,
        r"where eps acts.*bias-corrected sqrt\(v_hat\)",
        ADAM_BOTH,
    ),  # fmt: skip
    "betas_swapped": (adam_betas_swapped, r"FIRST step.*which beta goes", ADAM_BOTH),
    "corrected_moments_carried": (
        adam_keeps_corrected_moments,
        r"zero gradient at the second step.*not the bias-corrected m_hat",
        ADAM_BOTH,
    ),
    "global_t": (adam_global_t, r"ALONE.*no global variables", ADAM_BOTH),
    "float32_result": (adam_float32_cast, r"came back as float32, but w was float64", ADAM_BOTH),
    "betas_exchanged": (  # visible: step 1 already (eps' effect); hidden: step 2
        adam_betas_exchanged,
        NEUTRAL_HINT + r"(?=.*(FIRST step is off by|first step agrees with Keras))",
        ADAM_BOTH,
    ),
}


# =========================================================================================
# Task 4: learning-rate schedules, factories of schedule(step) -> lr
# =========================================================================================
STEP_BOTH = ("check_step_decay", "check_step_decay_hidden")
EXP_BOTH = ("check_exponential_decay", "check_exponential_decay_hidden")
POLY_BOTH = ("check_polynomial_decay", "check_polynomial_decay_hidden")
COS_BOTH = ("check_cosine_decay", "check_cosine_decay_hidden")


def step_decay(initial, decay_steps, factor=0.5):
    return lambda step: initial * factor ** (step // decay_steps)


def step_decay_loop(initial, decay_steps, factor=0.5):
    def schedule(step):
        lr = initial
        for _ in range(int(step) // int(decay_steps)):
            lr *= factor
        return lr

    return schedule


def step_decay_floor(initial, decay_steps, factor=0.5):
    def schedule(step):
        return float(initial * np.power(factor, np.floor(step / decay_steps)))

    return schedule


def exponential_decay(initial, decay_steps, decay_rate, staircase=False):
    def schedule(step):
        p = step / decay_steps
        if staircase:
            p = math.floor(p)
        return initial * decay_rate**p

    return schedule


def exponential_decay_exp_log(initial, decay_steps, decay_rate, staircase=False):
    def schedule(step):
        p = step // decay_steps if staircase else step / decay_steps
        return initial * math.exp(p * math.log(decay_rate))

    return schedule


def exponential_decay_numpy(initial, decay_steps, decay_rate, staircase=False):
    def schedule(step):
        p = np.float64(step) / decay_steps
        return np.float64(initial) * np.power(decay_rate, np.floor(p) if staircase else p)

    return schedule


def polynomial_decay(initial, end, decay_steps, power, cycle=False):
    def schedule(step):
        horizon = decay_steps
        if cycle:
            horizon = decay_steps * max(1, math.ceil(step / decay_steps))
        else:
            step = min(step, decay_steps)
        return (initial - end) * (1 - step / horizon) ** power + end

    return schedule


def polynomial_decay_keras_style(initial, end, decay_steps, power, cycle=False):
    def schedule(step):
        d = float(decay_steps)
        if cycle:
            mult = 1.0 if step == 0 else math.ceil(step / d)
            d = d * mult
        else:
            step = min(float(step), d)
        return (initial - end) * math.pow(1 - step / d, power) + end

    return schedule


def polynomial_decay_fraction(initial, end, decay_steps, power, cycle=False):
    def schedule(step):
        if cycle:
            k = max(1, -(-step // decay_steps))  # ceil for ints
            frac = 1 - step / (k * decay_steps)
        else:
            frac = 1 - min(step / decay_steps, 1.0)
        return end + (initial - end) * frac**power

    return schedule


def cosine_decay(initial, decay_steps, alpha=0.0):
    def schedule(step):
        s = min(step, decay_steps)
        cosine = 0.5 * (1 + math.cos(math.pi * s / decay_steps))
        return initial * ((1 - alpha) * cosine + alpha)

    return schedule


def cosine_decay_numpy(initial, decay_steps, alpha=0.0):
    return lambda step: float(
        initial
        * (alpha + (1 - alpha) * (1 + np.cos(np.pi * np.clip(step / decay_steps, 0, 1))) / 2)
    )


def cosine_decay_interpolated(initial, decay_steps, alpha=0.0):
    def schedule(step):
        c = 0.5 * (1 + math.cos(math.pi * min(step / decay_steps, 1.0)))
        low = alpha * initial
        return low + (initial - low) * c

    return schedule


# --- wrong schedules ---
def step_decay_late(initial, decay_steps, factor=0.5):
    return lambda step: initial * factor ** max(0, (step - 1) // decay_steps)


def step_decay_round(initial, decay_steps, factor=0.5):
    return lambda step: initial * factor ** round(step / decay_steps)


def step_decay_ceil(initial, decay_steps, factor=0.5):
    return lambda step: initial * factor ** math.ceil(step / decay_steps)


def step_decay_continuous(initial, decay_steps, factor=0.5):
    return lambda step: initial * factor ** (step / decay_steps)


def step_decay_value(initial, decay_steps, factor=0.5):
    return initial  # the rate at step 0, not a schedule


def step_decay_linear(initial, decay_steps, factor=0.5):
    return lambda step: initial * (1 - (1 - factor) * (step // decay_steps))


def exponential_not_divided(initial, decay_steps, decay_rate, staircase=False):
    return lambda step: initial * decay_rate ** (step // decay_steps if staircase else step)


def exponential_precedence(initial, decay_steps, decay_rate, staircase=False):
    if staircase:
        return lambda step: initial * decay_rate ** (step // decay_steps)
    return lambda step: initial * decay_rate**step / decay_steps


def exponential_as_exp(initial, decay_steps, decay_rate, staircase=False):
    def schedule(step):
        p = step / decay_steps
        if staircase:
            p = math.floor(p)
        return initial * math.exp(-decay_rate * p)

    return schedule


def exponential_staircase_ignored(initial, decay_steps, decay_rate, staircase=False):
    return lambda step: initial * decay_rate ** (step / decay_steps)


def exponential_always_staircase(initial, decay_steps, decay_rate, staircase=False):
    return lambda step: initial * decay_rate ** (step // decay_steps)


def polynomial_no_clamp(initial, end, decay_steps, power, cycle=False):
    def schedule(step):
        horizon = decay_steps * max(1, math.ceil(step / decay_steps)) if cycle else decay_steps
        return (initial - end) * abs(1 - step / horizon) ** power + end

    return schedule


def polynomial_cycle_restart(initial, end, decay_steps, power, cycle=False):
    def schedule(step):
        s = step % decay_steps if cycle else min(step, decay_steps)
        return (initial - end) * (1 - s / decay_steps) ** power + end

    return schedule


def polynomial_cycle_ignored(initial, end, decay_steps, power, cycle=False):
    def schedule(step):
        return (initial - end) * (1 - min(step, decay_steps) / decay_steps) ** power + end

    return schedule


def polynomial_power_ignored(initial, end, decay_steps, power, cycle=False):
    return polynomial_decay(initial, end, decay_steps, 1.0, cycle)


def polynomial_swapped(initial, end, decay_steps, power, cycle=False):
    return polynomial_decay(end, initial, decay_steps, power, cycle)


def polynomial_cycle_at_multiple(initial, end, decay_steps, power, cycle=False):
    def schedule(step):
        horizon = decay_steps
        if cycle:
            horizon = decay_steps * (step // decay_steps + 1)  # the NEXT multiple, also AT one
        else:
            step = min(step, decay_steps)
        return (initial - end) * (1 - step / horizon) ** power + end

    return schedule


def cosine_no_alpha(initial, decay_steps, alpha=0.0):
    return lambda step: (
        initial * 0.5 * (1 + math.cos(math.pi * min(step, decay_steps) / decay_steps))
    )


def cosine_no_clamp(initial, decay_steps, alpha=0.0):
    def schedule(step):
        cosine = 0.5 * (1 + math.cos(math.pi * step / decay_steps))
        return initial * ((1 - alpha) * cosine + alpha)

    return schedule


def cosine_alpha_added(initial, decay_steps, alpha=0.0):
    def schedule(step):
        cosine = 0.5 * (1 + math.cos(math.pi * min(step, decay_steps) / decay_steps))
        return initial * (cosine + alpha)

    return schedule


def cosine_alpha_absolute(initial, decay_steps, alpha=0.0):
    def schedule(step):
        cosine = 0.5 * (1 + math.cos(math.pi * min(step, decay_steps) / decay_steps))
        return (initial - alpha) * cosine + alpha

    return schedule


def cosine_full_period(initial, decay_steps, alpha=0.0):
    def schedule(step):
        cosine = 0.5 * (1 + math.cos(2 * math.pi * min(step, decay_steps) / decay_steps))
        return initial * ((1 - alpha) * cosine + alpha)

    return schedule


STEP_DECAY_CORRECT = [step_decay, step_decay_loop, step_decay_floor]
EXPONENTIAL_DECAY_CORRECT = [exponential_decay, exponential_decay_exp_log, exponential_decay_numpy]
POLYNOMIAL_DECAY_CORRECT = [polynomial_decay, polynomial_decay_keras_style,
                            polynomial_decay_fraction]  # fmt: skip
COSINE_DECAY_CORRECT = [cosine_decay, cosine_decay_numpy, cosine_decay_interpolated]

STEP_DECAY_WRONG = {
    "drops_one_late": (
        step_decay_late,
        r"drops one step late: the drop happens AT step",
        STEP_BOTH,
    ),
    "round_not_floor": (step_decay_round, r"halfway.*round\(step / decay_steps\)", STEP_BOTH),
    "ceil_not_floor": (step_decay_ceil, r"first step of each period: ceil", STEP_BOTH),
    "continuous": (step_decay_continuous, r"changes at every step: a staircase", STEP_BOTH),
    "returns_a_value": (step_decay_value, r"not a function of the step", STEP_BOTH),
    "linear_steps": (step_decay_linear, r"right steps but to the wrong values", STEP_BOTH),
}
EXPONENTIAL_DECAY_WRONG = {
    "not_divided": (exponential_not_divided, r"decay_steps times too large", EXP_BOTH),
    "precedence": (exponential_precedence, r"initial / decay_steps: \*\* binds tighter", EXP_BOTH),
    "exp_of_rate": (exponential_as_exp, r"exp\(-decay_rate \* step / decay_steps\)", EXP_BOTH),
    "staircase_ignored": (exponential_staircase_ignored, r"changes at every step", EXP_BOTH),
    "always_staircase": (
        exponential_always_staircase,
        r"only changes at multiples.*staircase=True",
        EXP_BOTH,
    ),  # fmt: skip
}
POLYNOMIAL_DECAY_WRONG = {
    "no_clamp": (polynomial_no_clamp, r"must stay at end.*min\(step, decay_steps\)", POLY_BOTH),
    "cycle_restarts": (polynomial_cycle_restart, r"step % decay_steps\).*horizon GROWS", POLY_BOTH),
    "cycle_ignored": (polynomial_cycle_ignored, r"cycle=True.*horizon GROWS", POLY_BOTH),
    "power_ignored": (
        polynomial_power_ignored,
        r"\*\* 1 ,? ?where power = 2|\*\* 1, where power",
        ("check_polynomial_decay",),
    ),  # fmt: skip
    "initial_end_swapped": (polynomial_swapped, r"starts at `end`.*swapped", POLY_BOTH),
    "cycle_at_multiple": (
        polynomial_cycle_at_multiple,
        r"a multiple of decay_steps.*end =",
        POLY_BOTH,
    ),  # fmt: skip
}
COSINE_DECAY_WRONG = {
    "alpha_ignored": (cosine_no_alpha, r"yours is 0: alpha is ignored", COS_BOTH),
    "no_clamp": (cosine_no_clamp, r"min\(step, decay_steps\), or the cosine rises", COS_BOTH),
    "alpha_added": (cosine_alpha_added, r"initial \* \(1 \+ alpha\)", COS_BOTH),
    "alpha_absolute": (cosine_alpha_absolute, r"alpha is a FRACTION of initial", COS_BOTH),
    "full_period": (cosine_full_period, r"full cosine period.*half a cosine period", COS_BOTH),
}


# =========================================================================================
# Task 5: EarlyStopping(patience, min_delta=0.0, restore_best=True).update(epoch, val_loss,
# weights) -> stop?
# =========================================================================================
ES_BOTH = ("check_early_stopping", "check_early_stopping_hidden")
ES_VISIBLE = ("check_early_stopping",)


class EarlyStopping:
    def __init__(self, patience, min_delta=0.0, restore_best=True):
        self.patience, self.min_delta, self.restore_best = patience, min_delta, restore_best
        self.best, self.best_epoch, self.best_weights = math.inf, None, None
        self.stopped_epoch, self.wait = None, 0

    def update(self, epoch, val_loss, weights):
        if val_loss < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = val_loss, epoch, 0
            if self.restore_best:
                self.best_weights = [w.copy() for w in weights]
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False


class EarlyStoppingSinceBest:
    """Counts the epochs since the best one instead of keeping a wait counter."""

    def __init__(self, patience, min_delta=0.0, restore_best=True):
        self.patience, self.min_delta, self.restore_best = patience, min_delta, restore_best
        self.best = float("inf")
        self.best_epoch = self.best_weights = self.stopped_epoch = None

    def update(self, epoch, val_loss, weights):
        if self.best - val_loss > self.min_delta:
            self.best, self.best_epoch = val_loss, epoch
            if self.restore_best:
                self.best_weights = [np.array(w, copy=True) for w in weights]
        elif epoch - self.best_epoch >= self.patience:
            self.stopped_epoch = epoch
        return self.stopped_epoch is not None


class EarlyStoppingDeepcopy:
    def __init__(self, patience, min_delta=0.0, restore_best=True):
        import copy

        self._copy = copy.deepcopy
        self.patience, self.min_delta, self.restore_best = patience, min_delta, restore_best
        self.history, self.best_weights, self.stopped_epoch = [], None, None

    @property
    def best(self):
        return self.history[self.best_epoch - 1]

    def update(self, epoch, val_loss, weights):
        best = min(self._kept(), default=math.inf)
        self.history.append(val_loss)
        if val_loss < best - self.min_delta:
            self.best_epoch, self.wait = epoch, 0
            if self.restore_best:
                self.best_weights = self._copy(weights)
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
        return self.wait >= self.patience

    def _kept(self):
        return [self.history[self.best_epoch - 1]] if self.history else []


def _es(name, improved=None, limit=None, reset=True, copy=None, set_stopped=True,
        store_always=False):  # fmt: skip
    """An EarlyStopping with one part changed."""

    class Wrong(EarlyStopping):
        def update(self, epoch, val_loss, weights):
            last = getattr(self, "last", math.inf)
            self.last = val_loss
            is_better = (improved or (lambda s, v, last: v < s.best - s.min_delta))(
                self, val_loss, last
            )
            if store_always and self.restore_best:
                self.best_weights = [w.copy() for w in weights]
            if is_better:
                self.best, self.best_epoch = min(self.best, val_loss), epoch
                if reset:
                    self.wait = 0
                if self.restore_best and not store_always:
                    self.best_weights = copy(weights) if copy else [w.copy() for w in weights]
                if reset:
                    return False
            else:
                self.wait += 1
            if self.wait >= (limit(self) if limit else self.patience):
                if set_stopped:
                    self.stopped_epoch = epoch
                return True
            return False

    Wrong.__name__ = Wrong.__qualname__ = name
    return Wrong


ESPatiencePlusOne = _es("ESPatiencePlusOne", limit=lambda s: s.patience + 1)
ESNonStrict = _es("ESNonStrict", improved=lambda s, v, last: v <= s.best - s.min_delta)
ESDeltaSign = _es("ESDeltaSign", improved=lambda s, v, last: v < s.best + s.min_delta)
ESComparesLast = _es("ESComparesLast", improved=lambda s, v, last: v < last - s.min_delta)
ESNoDelta = _es("ESNoDelta", improved=lambda s, v, last: v < s.best)
ESNoReset = _es("ESNoReset", reset=False)
ESReference = _es("ESReference", copy=lambda weights: weights)
ESShallowCopy = _es("ESShallowCopy", copy=lambda weights: list(weights))
ESStoresEveryEpoch = _es("ESStoresEveryEpoch", store_always=True)
ESNoStoppedEpoch = _es("ESNoStoppedEpoch", set_stopped=False)


class ESPatienceMinusOne(EarlyStopping):
    """Counts the improving epoch itself: the count restarts at 1, not 0."""

    def update(self, epoch, val_loss, weights):
        if val_loss < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = val_loss, epoch, 1
            self.best_weights = [w.copy() for w in weights] if self.restore_best else None
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False


class ESTrueToContinue(EarlyStopping):
    """Returns True to go on training (the opposite of the convention)."""

    def update(self, epoch, val_loss, weights):
        return not super().update(epoch, val_loss, weights)


class ESIgnoresRestoreBest(EarlyStopping):
    def update(self, epoch, val_loss, weights):
        self.restore_best = True
        return super().update(epoch, val_loss, weights)


EARLY_STOPPING_CORRECT = [EarlyStopping, EarlyStoppingSinceBest, EarlyStoppingDeepcopy]
EARLY_STOPPING_WRONG = {
    "patience_plus_one": (ESPatiencePlusOne, r"patience \+ 1 epochs.*REACHES patience", ES_BOTH),
    "patience_minus_one": (ESPatienceMinusOne, r"one epoch too early", ES_BOTH),
    "non_strict": (ESNonStrict, r"equal to the best\) counts as an improvement", ES_VISIBLE),
    "min_delta_sign": (ESDeltaSign, r"min_delta has the wrong sign", ES_VISIBLE),
    "compares_last": (ESComparesLast, r"PREVIOUS epoch's val_loss.*BEST so far", ES_BOTH),
    "min_delta_ignored": (ESNoDelta, r"min_delta is ignored", ES_VISIBLE),
    "wait_not_reset": (ESNoReset, r"not reset to 0", ES_BOTH),
    "weights_by_reference": (ESReference, r"kept a reference.*w\.copy\(\)", ES_BOTH),
    "shallow_list_copy": (ESShallowCopy, r"list\(weights\) copies the list", ES_BOTH),
    "stores_every_epoch": (
        ESStoresEveryEpoch,
        r"weights of epoch \d+, not of the best epoch",
        ES_BOTH,
    ),  # fmt: skip
    "no_stopped_epoch": (
        ESNoStoppedEpoch,
        r"(?s)stopped_epoch is None.*set stopped_epoch",
        ES_BOTH,
    ),
    "true_to_continue": (ESTrueToContinue, r"returns True to STOP", ES_BOTH),
    "restore_best_ignored": (
        ESIgnoresRestoreBest,
        r"expected None with restore_best=False",
        ES_VISIBLE,
    ),  # fmt: skip
}
