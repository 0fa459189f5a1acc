"""Learning-rate schedules against their closed forms (NumPy) and torch.optim.lr_scheduler."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import graphcomp as gc

S = gc.optim.schedules
T = np.arange(40)


def _closed_forms():
    """(graphcomp schedule of a step, the same formula written per step in plain Python)."""
    return {
        "step_decay": (
            lambda s: S.step_decay(s, 0.3, step_size=7, gamma=0.5),
            lambda k: 0.3 * 0.5 ** (k // 7),
        ),
        "cosine": (
            lambda s: S.cosine(s, 0.3, total_steps=25, min_lr=0.01),
            lambda k: 0.01 + (0.3 - 0.01) * (1 + math.cos(math.pi * min(k, 25) / 25)) / 2,
        ),
        "linear_warmup": (
            lambda s: S.linear_warmup(s, 0.3, warmup_steps=9, start_factor=0.25),
            lambda k: 0.3 * (0.25 + 0.75 * min(k, 9) / 9),
        ),
        "join": (
            lambda s: S.join(s, [lambda u: S.linear_warmup(u, 0.3, 5), lambda u: S.cosine(u, 0.3, 20)], [5]),
            lambda k: 0.3 * k / 5 if k < 5 else 0.3 * (1 + math.cos(math.pi * min(k - 5, 20) / 20)) / 2,
        ),
        "join3": (
            lambda s: S.join(
                s, [lambda u: 0.1 + 0 * u, lambda u: S.step_decay(u, 1.0, 3), lambda u: 7.0 + 0 * u], [4, 12]
            ),
            lambda k: 0.1 if k < 4 else (0.1 ** ((k - 4) // 3) if k < 12 else 7.0),
        ),
    }


@pytest.mark.parametrize("name", list(_closed_forms()))
def test_each_schedule_equals_its_closed_form_over_an_array_of_steps(name):
    schedule, closed = _closed_forms()[name]
    got = gc.evaluate(schedule(T), {})
    assert got.dtype == np.float64 and got.shape == T.shape
    np.testing.assert_allclose(got, [closed(int(k)) for k in T], rtol=1e-14, atol=1e-16)


@pytest.mark.parametrize("name", list(_closed_forms()))
def test_each_schedule_read_from_a_counter_gives_the_closed_form_at_each_call(name):
    schedule, closed = _closed_forms()[name]
    k = gc.optim.step_counter()
    w = gc.Parameter(1.0, "w")
    lr = schedule(k)
    f = gc.compile(lr, [], updates=gc.optim.sgd(w * 0.0, [w], lr=lr))  # sgd advances the counter lr reads
    got = [float(f()) for _ in T]
    np.testing.assert_allclose(got, [closed(int(t)) for t in T], rtol=1e-14, atol=1e-16)


def _torch_lrs(torch, make_scheduler, base, n):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=base)
    sched = make_scheduler(opt)
    lrs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SequentialLR's own deprecation chatter
        for _ in range(n):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
    return np.array(lrs)


def test_the_schedules_match_torch_lr_schedulers():
    torch = pytest.importorskip("torch")
    sch = torch.optim.lr_scheduler
    cases = [
        (S.step_decay(T, 0.3, 7, 0.5), lambda o: sch.StepLR(o, step_size=7, gamma=0.5), len(T)),
        # torch's cosine rises again after T_max; ours holds min_lr, so compare up to T_max
        (S.cosine(T[:26], 0.3, 25, 0.01), lambda o: sch.CosineAnnealingLR(o, T_max=25, eta_min=0.01), 26),
        (S.linear_warmup(T, 0.3, 9, 0.25), lambda o: sch.LinearLR(o, start_factor=0.25, total_iters=9), len(T)),
        (
            S.join(T[:25], [lambda u: S.linear_warmup(u, 0.3, 5, 0.2), lambda u: S.cosine(u, 0.3, 20)], [5]),
            lambda o: sch.SequentialLR(
                o, [sch.LinearLR(o, start_factor=0.2, total_iters=5), sch.CosineAnnealingLR(o, T_max=20)], [5]
            ),
            25,
        ),
    ]
    for ours, make, n in cases:
        np.testing.assert_allclose(gc.evaluate(ours, {}), _torch_lrs(torch, make, 0.3, n), rtol=1e-12, atol=1e-15)


def test_a_float_step_variable_works_and_bad_arguments_are_refused():
    s = gc.Variable("s", (), "float32")
    assert float(gc.evaluate(S.cosine(s, 1.0, 4), {s: 2.0})) == pytest.approx(0.5, rel=1e-15)
    bad = [
        (lambda: S.step_decay(T, 0.1, 0), r"step_size must be a positive int, got 0"),
        (lambda: S.step_decay(T, 0.1, 2.5), r"step_size must be a positive int"),
        (lambda: S.cosine(T, -1.0, 5), r"base_lr must be in \[0.0, inf\]"),
        (lambda: S.linear_warmup(T, 0.1, 5, start_factor=1.5), r"start_factor must be in \[0.0, 1.0\]"),
        (lambda: S.cosine("now", 0.1, 5), r"cosine: step must be a step number"),
        (lambda: S.cosine(gc.Variable("b", (), "bool"), 0.1, 5), r"integer or float Variable"),
        (lambda: S.join(T, [lambda u: u], [3]), r"1 schedule\(s\) need 0 boundaries"),
        (lambda: S.join(T, [lambda u: u] * 3, [5, 5]), r"boundaries must increase"),
        (lambda: S.join(T, [lambda u: u, 0.1], [5]), r"schedules must be functions"),
    ]
    for call, match in bad:
        with pytest.raises(gc.GraphError, match=match) as info:
            call()
        assert "test_schedules.py" in str(info.value)
