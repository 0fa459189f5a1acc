"""Optimisers step for step against torch.optim and against their update rules written in NumPy here.

The problem: least squares with two parameter tensors, cost = mean((X W + b - Y)^2) / 2,
whose gradient is dW = X^T R / R.size, db = sum(R, 0) / R.size with R = X W + b - Y.
Each optimiser runs 10 compiled steps; the parameters after every step must equal the
NumPy reference's (and torch's, where installed) to 1e-12.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import graphcomp as gc

S = gc.optim.schedules
STEPS = 10


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2)) * 3
    return X, Y, rng.standard_normal((3, 2)), rng.standard_normal(2)


def _closed_form_grads(X, Y, W, b):
    R = X @ W + b - Y
    return [X.T @ R / R.size, R.sum(0) / R.size]


def _np_clip(grads, max_norm):
    """torch.nn.utils.clip_grad_norm_'s rule."""
    total = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
    coef = min(max_norm / (total + 1e-6), 1.0)
    return [g * coef for g in grads], total


def _schedule_np(k, base):
    """3 steps of linear warm-up from 0.1 * base, then cosine over 7 steps down to 0.1 * base."""
    if k < 3:
        return base * (0.1 + 0.9 * k / 3)
    t = min(k - 3, 7)
    return 0.1 * base + 0.9 * base * (1 + math.cos(math.pi * t / 7)) / 2


def _schedule_gc(step, base):
    return S.join(
        step,
        [lambda s: S.linear_warmup(s, base, 3, start_factor=0.1), lambda s: S.cosine(s, base, 7, min_lr=0.1 * base)],
        [3],
    )


class _Reference:
    """The update rules as torch.optim documents them, on NumPy arrays; ``t`` counts from 1."""

    def __init__(self, kind, params, **kw):
        self.kind, self.kw, self.params = kind, kw, [p.copy() for p in params]
        self.state = [dict() for _ in params]
        self.t = 0

    def step(self, grads, lr):
        self.t += 1
        kw = self.kw
        for i, (p, g) in enumerate(zip(self.params, grads)):
            st = self.state[i]
            wd = kw.get("weight_decay", 1e-2 if self.kind == "adamw" else 0.0)
            if self.kind == "sgd":
                g = g + wd * p
                mu = kw.get("momentum", 0.0)
                if mu:
                    st["buf"] = mu * st.get("buf", 0.0) + g
                    g = g + mu * st["buf"] if kw.get("nesterov") else st["buf"]
                self.params[i] = p - lr * g
            elif self.kind in ("adam", "adamw"):
                b1, b2 = kw.get("betas", (0.9, 0.999))
                eps = kw.get("eps", 1e-8)
                if self.kind == "adam":
                    g = g + wd * p
                else:
                    p = p * (1 - lr * wd)
                st["m"] = b1 * st.get("m", 0.0) + (1 - b1) * g
                st["v"] = b2 * st.get("v", 0.0) + (1 - b2) * g * g
                v = st["v"]
                if kw.get("amsgrad"):
                    st["vmax"] = v = np.maximum(st.get("vmax", 0.0), v)
                denom = np.sqrt(v) / math.sqrt(1 - b2**self.t) + eps
                self.params[i] = p - lr / (1 - b1**self.t) * st["m"] / denom
            else:  # rmsprop
                alpha, eps, mu = kw.get("alpha", 0.99), kw.get("eps", 1e-8), kw.get("momentum", 0.0)
                g = g + wd * p
                st["s"] = alpha * st.get("s", 0.0) + (1 - alpha) * g * g
                if kw.get("centered"):
                    st["a"] = alpha * st.get("a", 0.0) + (1 - alpha) * g
                    avg = np.sqrt(st["s"] - st["a"] ** 2) + eps
                else:
                    avg = np.sqrt(st["s"]) + eps
                if mu:
                    st["buf"] = mu * st.get("buf", 0.0) + g / avg
                    self.params[i] = p - lr * st["buf"]
                else:
                    self.params[i] = p - lr * g / avg


CASES = [
    ("sgd", dict(lr=0.1)),
    ("sgd", dict(lr=0.1, momentum=0.9)),
    ("sgd", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("adam", dict(lr=0.05)),
    ("adam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-3, weight_decay=0.1, amsgrad=True)),
    ("adamw", dict(lr=0.05)),
    ("adamw", dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
    ("rmsprop", dict(lr=0.01)),
    ("rmsprop", dict(lr=0.01, alpha=0.9, eps=1e-4, momentum=0.5, centered=True, weight_decay=0.1)),
]
IDS = [f"{k}-{'-'.join(kw)}" for k, kw in CASES]


def _run_graphcomp(kind, kw, schedule, max_grad_norm, X, Y, W0, b0):
    """The parameters after each of 10 compiled steps, and the step counter's final value."""
    W, b = gc.Parameter(W0, "W"), gc.Parameter(b0, "b")
    x, y = gc.Variable("x", (None, 3)), gc.Variable("y", (None, 2))
    cost = gc.mean(gc.square(x @ W + b - y)) / 2
    kw = dict(kw)
    counter = None
    if schedule:
        counter = gc.optim.step_counter()
        kw["lr"] = _schedule_gc(counter, kw["lr"])
    updates = getattr(gc.optim, kind)(cost, [W, b], max_grad_norm=max_grad_norm, **kw)
    f = gc.compile(cost, [x, y], updates=updates)
    history = []
    for _ in range(STEPS):
        f(X, Y)
        history.append([W.get_value(), b.get_value()])
    return history, counter


def _run_reference(kind, kw, schedule, max_grad_norm, X, Y, W0, b0):
    kw = dict(kw)
    base = kw.pop("lr")
    ref = _Reference(kind, [W0, b0], **kw)
    history, clipped = [], False
    for k in range(STEPS):
        grads = _closed_form_grads(X, Y, *ref.params)
        if max_grad_norm is not None:
            grads, total = _np_clip(grads, max_grad_norm)
            clipped |= total > max_grad_norm
        ref.step(grads, _schedule_np(k, base) if schedule else base)
        history.append([p.copy() for p in ref.params])
    assert max_grad_norm is None or clipped  # the clipping was exercised
    return history


def _run_torch(torch, kind, kw, schedule, max_grad_norm, X, Y, W0, b0):
    kw = dict(kw)
    base = kw["lr"]
    W, b = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (W0, b0))
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}.get(kind, torch.optim.RMSprop)
    opt = cls([W, b], **kw)
    history = []
    for k in range(STEPS):
        if schedule:
            opt.param_groups[0]["lr"] = _schedule_np(k, base)
        opt.zero_grad()
        (torch.mean((Xt @ W + b - Yt) ** 2) / 2).backward()
        if max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_([W, b], max_grad_norm)
        opt.step()
        history.append([W.detach().numpy().copy(), b.detach().numpy().copy()])
    return history


def _assert_same(got, want, who):
    for k, (g, w) in enumerate(zip(got, want)):
        for name, gv, wv in zip("Wb", g, w):
            np.testing.assert_allclose(gv, wv, rtol=1e-12, atol=1e-12, err_msg=f"{who}: {name} after step {k + 1}")


@pytest.mark.parametrize("max_grad_norm", [None, 0.5], ids=["noclip", "clip"])
@pytest.mark.parametrize("schedule", [False, True], ids=["constlr", "schedule"])
@pytest.mark.parametrize("kind,kw", CASES, ids=IDS)
def test_each_optimiser_follows_its_update_rule_written_in_numpy(kind, kw, schedule, max_grad_norm):
    data = _data()
    got, counter = _run_graphcomp(kind, kw, schedule, max_grad_norm, *data)
    _assert_same(got, _run_reference(kind, kw, schedule, max_grad_norm, *data), "NumPy reference")
    if counter is not None:
        assert int(counter.value) == STEPS  # the schedule's counter advanced once per call


@pytest.mark.parametrize("max_grad_norm", [None, 0.5], ids=["noclip", "clip"])
@pytest.mark.parametrize("schedule", [False, True], ids=["constlr", "schedule"])
@pytest.mark.parametrize("kind,kw", CASES, ids=IDS)
def test_each_optimiser_matches_torch_optim_step_for_step(kind, kw, schedule, max_grad_norm):
    torch = pytest.importorskip("torch")
    data = _data()
    got, _ = _run_graphcomp(kind, kw, schedule, max_grad_norm, *data)
    _assert_same(got, _run_torch(torch, kind, kw, schedule, max_grad_norm, *data), "torch.optim")


def test_the_old_velocity_form_of_momentum_differs_under_a_schedule_and_ours_does_not():
    """v <- mu v - lr g equals torch's buf form only while lr is constant; at step 2 with
    lr changing 0.1 -> 0.3 it is off by (0.3 - 0.1) mu g1, the buf form is exact."""
    w0, mu = 2.0, 0.9
    counter = gc.optim.step_counter()
    lr = gc.where(counter < 1, 0.1, 0.3)
    w = gc.Parameter(w0, "w")
    f = gc.compile(0.5 * w * w, [], updates=gc.optim.sgd(0.5 * w * w, [w], lr=lr, momentum=mu))
    f(), f()
    g1 = w0
    w1 = w0 - 0.1 * g1
    buf2 = mu * g1 + w1
    assert float(w.value) == pytest.approx(w1 - 0.3 * buf2, rel=1e-15)
    velocity_form = w1 + (mu * (-0.1 * g1) - 0.3 * w1)
    assert abs(velocity_form - float(w.value)) > 0.1 * abs(float(w.value))


def test_clip_grad_norm_matches_the_closed_form_and_torch():
    rng = np.random.default_rng(3)
    gs = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    total = math.sqrt(sum(float(np.sum(g * g)) for g in gs))
    for max_norm in (0.5 * total, 2.0 * total):
        got = gc.evaluate(gc.optim.clip_grad_norm([gc.constant(g) for g in gs], max_norm), {})
        coef = min(max_norm / (total + 1e-6), 1.0)
        for g, want in zip(got, gs):
            np.testing.assert_allclose(g, want * coef, rtol=1e-14)
    torch = pytest.importorskip("torch")
    ts = [torch.tensor(g, requires_grad=True) for g in gs]
    for t, g in zip(ts, gs):
        t.grad = torch.tensor(g)
    torch.nn.utils.clip_grad_norm_(ts, 0.5 * total)
    got = gc.evaluate(gc.optim.clip_grad_norm([gc.constant(g) for g in gs], 0.5 * total), {})
    for g, t in zip(got, ts):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-13)


def test_adam_keeps_its_own_step_counter_in_the_updates_and_shares_a_schedules():
    W = gc.Parameter(np.ones(3), "W")
    cost = gc.sum(gc.square(W))
    own = gc.optim.adam(cost, [W], lr=0.1)
    counters = [p for p in own if p.shape == () and p.dtype.kind == "i"]
    assert len(counters) == 1 and counters[0].name == "adam.step"
    assert {p.name for p in own} == {"W", "W.exp_avg", "W.exp_avg_sq", "adam.step"}

    k = gc.optim.step_counter()
    shared = gc.optim.adam(cost, [W], lr=S.cosine(k, 0.1, 10))
    assert k in shared and sum(p.dtype.kind == "i" for p in shared) == 1  # the schedule's, no second one
    f = gc.compile(cost, [], updates=shared)
    for _ in range(4):
        f()
    assert int(k.value) == 4


def test_an_explicit_step_counter_is_advanced_and_resumes_where_it_was_set():
    W = gc.Parameter(np.ones(2), "W")
    cost = gc.sum(gc.square(W))
    k = gc.optim.step_counter("my_step")
    k.set_value(5)  # resume at step 5: Adam's bias correction then uses t = 6
    f = gc.compile(cost, [], updates=gc.optim.adam(cost, [W], lr=0.1, step=k))
    f()
    assert int(k.value) == 6
    g = 2.0
    m, v = 0.1 * g, 0.001 * g * g
    want = 1.0 - 0.1 / (1 - 0.9**6) * m / (math.sqrt(v) / math.sqrt(1 - 0.999**6) + 1e-8)
    np.testing.assert_allclose(W.value, want, rtol=1e-14)


def test_float32_parameters_stay_float32_and_follow_the_float64_steps():
    data = _data()
    W, b = gc.Parameter(data[2].astype(np.float32), "W"), gc.Parameter(data[3].astype(np.float32), "b")
    x, y = gc.Variable("x", (None, 3), "float32"), gc.Variable("y", (None, 2), "float32")
    cost = gc.mean(gc.square(x @ W + b - y)) / 2
    k = gc.optim.step_counter()
    for kind in ("sgd", "adam", "adamw", "rmsprop"):
        updates = getattr(gc.optim, kind)(cost, [W, b], lr=_schedule_gc(k, 0.05), max_grad_norm=0.5)
        assert all(new.dtype == p.dtype for p, new in updates.items()), kind  # no float64 detour
    ref = _run_reference("adam", dict(lr=0.05), True, 0.5, *data)
    f = gc.compile(cost, [x, y], updates=gc.optim.adam(cost, [W, b], lr=_schedule_gc(k, 0.05), max_grad_norm=0.5))
    for step in range(STEPS):
        f(data[0].astype(np.float32), data[1].astype(np.float32))
        np.testing.assert_allclose(W.value, ref[step][0], rtol=1e-4, atol=1e-5)
    assert W.value.dtype == np.float32


def test_momentum_sgd_keeps_its_buffer_as_a_named_parameter():
    W = gc.Parameter(np.ones(2), "W")
    updates = gc.optim.sgd(gc.sum(W * W), [W], lr=0.1, momentum=0.9)
    assert {p.name for p in updates} == {"W", "W.momentum_buffer"}


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda c, W: gc.optim.sgd(c, [W], lr=-0.1), r"sgd: lr must be >= 0, got -0.1"),
        (lambda c, W: gc.optim.sgd(c, [W], lr="fast"), r"sgd: lr must be a number"),
        (lambda c, W: gc.optim.sgd(c, [W], lr=0.1, momentum=1.0), r"momentum must be >= 0 and < 1.0"),
        (lambda c, W: gc.optim.sgd(c, [W], lr=0.1, nesterov=True), r"nesterov=True needs momentum > 0"),
        (lambda c, W: gc.optim.adam(c, [W], betas=(0.9,)), r"betas must be a pair"),
        (lambda c, W: gc.optim.adam(c, [W], betas=(0.9, 1.0)), r"beta2 must be >= 0 and < 1.0"),
        (lambda c, W: gc.optim.adamw(c, [W], eps=-1.0), r"adamw: eps must be >= 0"),
        (lambda c, W: gc.optim.rmsprop(c, [W], alpha=1.5), r"rmsprop: alpha must be >= 0 and < 1.0"),
        (lambda c, W: gc.optim.adam(c, [], lr=0.1), r"adam: params is empty"),
        (lambda c, W: gc.optim.adam(c, [W, W]), r"Parameter 'W' is listed twice"),
        (lambda c, W: gc.optim.adam(c, [gc.Variable("v")]), r"params must be Parameters"),
        (lambda c, W: gc.optim.adam(c, 3), r"params must be a list of Parameters"),
        (lambda c, W: gc.optim.sgd(c, [W], lr=gc.Variable("lr", (2,))), r"lr must be a scalar.*\(2,\)"),
        (lambda c, W: gc.optim.sgd(c, [W], lr=0.1, max_grad_norm=-1), r"max_grad_norm must be >= 0"),
        (lambda c, W: gc.optim.adam(c, [W], step=gc.Parameter(0.0)), r"step must be a step counter"),
        (
            lambda c, W: gc.optim.adam(c, [W], lr=S.cosine(gc.optim.step_counter(), 1, 5) * gc.optim.step_counter()),
            r"lr reads several step counters",
        ),
    ],
)
def test_bad_arguments_are_refused_naming_the_optimiser_and_the_line(call, match):
    W = gc.Parameter(np.ones(2), "W")
    with pytest.raises(gc.GraphError, match=match) as info:
        call(gc.sum(W * W), W)
    assert "test_optim.py" in str(info.value)


def test_an_integer_parameter_is_refused_and_a_disconnected_one_named():
    k = gc.Parameter(np.arange(3), "k")
    W, V = gc.Parameter(np.ones(2), "W"), gc.Parameter(np.ones(2), "V")
    with pytest.raises(gc.DTypeError, match=r"Parameter 'k' has dtype int64"):
        gc.optim.adam(gc.sum(W), [k])
    with pytest.raises(gc.GradientError, match="V"):
        gc.optim.adam(gc.sum(W * W), [W, V])


def test_lr_may_be_an_input_fed_at_each_call():
    w = gc.Parameter(2.0, "w")
    lr = gc.Variable("lr")
    f = gc.compile(0.5 * w * w, [lr], updates=gc.optim.sgd(0.5 * w * w, [w], lr=lr, momentum=0.5))
    f(0.1), f(0.3)
    w1 = 2.0 - 0.1 * 2.0
    assert float(w.value) == pytest.approx(w1 - 0.3 * (0.5 * 2.0 + w1), rel=1e-15)
