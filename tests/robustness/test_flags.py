"""Every flag argument of the public API takes True or False only (NumPy's bools too):
anything else, "no" included, is an ArgumentError naming the function and the flag,
never a string taken by its truthiness (user report 1, item 7: ``adam(amsgrad="no")``
turned AMSGrad on). The flags are found by looking at every public signature, so a new
flag without a check fails here. Oracle: the rule itself (``graphcomp.core.types.as_bool``)
and, for the behaviour a valid flag selects, the function's own closed form elsewhere."""

from __future__ import annotations

import inspect
import types

import numpy as np
import pytest

import graphcomp as gc
import graphcomp.examples.digits as digits

NAMESPACES = [gc, gc.nn, gc.nn.init, gc.optim, gc.optim.schedules, gc.data, gc.random, digits]


def _is_flag(p: inspect.Parameter) -> bool:
    if isinstance(p.default, (bool, np.bool_)):
        return True
    note = p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__", "")
    return note.split(" | ")[0] == "bool"


def _callables():
    """(qualified name, callable) of every public function, class and public method."""
    seen = {}
    for ns in NAMESPACES:
        names = getattr(ns, "__all__", None) or [n for n in dir(ns) if not n.startswith("_")]
        for n in names:
            obj = getattr(ns, n, None)
            if isinstance(obj, types.FunctionType):
                seen.setdefault(obj.__qualname__, obj)
            elif isinstance(obj, type) and obj.__module__.startswith("graphcomp"):
                seen.setdefault(obj.__qualname__, obj)
                for m, fn in vars(obj).items():
                    if isinstance(fn, types.FunctionType) and not m.startswith("_"):
                        seen.setdefault(f"{obj.__qualname__}.{m}", fn)
    for m, fn in vars(gc.Variable).items():  # the NumPy-like methods the op library installs
        if isinstance(fn, types.FunctionType) and not m.startswith("_"):
            seen.setdefault(f"Variable.{m}", fn)
    return seen


def _discovered() -> set[tuple[str, str]]:
    found = set()
    for name, fn in _callables().items():
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            continue
        found |= {(name, p) for p, spec in params.items() if _is_flag(spec)}
    return found


x = gc.Variable("x", (None, 4))
w = gc.Parameter(np.ones(4), "w")
cost = (w * w).sum()

#: (function, flag) -> a call with that flag set to the given value and every other argument valid
CALLS = {
    ("sgd", "nesterov"): lambda f: gc.optim.sgd(cost, [w], 0.1, momentum=0.9, nesterov=f),
    ("adam", "amsgrad"): lambda f: gc.optim.adam(cost, [w], amsgrad=f),
    ("adamw", "amsgrad"): lambda f: gc.optim.adamw(cost, [w], amsgrad=f),
    ("rmsprop", "centered"): lambda f: gc.optim.rmsprop(cost, [w], centered=f),
    ("batch_norm", "training"): lambda f: gc.nn.batch_norm(x, None, None, running=gc.nn.RunningStats(4), training=f),
    ("dropout", "training"): lambda f: gc.nn.dropout(x, 0.5, gc.random.Generator(0), training=f),
    ("compile", "check_finite"): lambda f: gc.compile(cost, check_finite=f),
    ("compile", "verify_passes"): lambda f: gc.compile(cost, verify_passes=f),
    ("evaluate", "check_finite"): lambda f: gc.evaluate(cost, {}, check_finite=f),
    ("backprop", "trace"): lambda f: gc.backprop(cost, [w], trace=f),
    ("batches", "shuffle"): lambda f: gc.data.batches(np.ones(4), 2, shuffle=f),
    ("batches", "drop_last"): lambda f: gc.data.batches(np.ones(4), 2, drop_last=f),
    ("batches", "progress"): lambda f: gc.data.batches(np.ones(4), 2, progress=f if f is not True else False),
    ("Batches", "shuffle"): lambda f: gc.data.Batches(np.ones(4), 2, f, 0, False, False),
    ("Batches", "drop_last"): lambda f: gc.data.Batches(np.ones(4), 2, True, 0, f, False),
    ("Batches", "progress"): lambda f: gc.data.Batches(np.ones(4), 2, True, 0, False, f if f is not True else False),
    ("scan", "reverse"): lambda f: gc.scan(lambda c, t: (c + t, c), 0.0, np.ones(3), reverse=f),
    ("scan", "checkpoint"): lambda f: gc.scan(lambda c, t: (c + t, c), 0.0, np.ones(3), checkpoint=f),
    ("fori_loop", "checkpoint"): lambda f: gc.fori_loop(0, 2, lambda i, c: c + 1.0, 0.0, checkpoint=f),
    ("map", "checkpoint"): lambda f: gc.map(lambda t: t * 2.0, np.ones(3), checkpoint=f),
    ("cnn", "batch_norm"): lambda f: digits.cnn(filters=2, batch_norm=f),
    ("train", "progress"): lambda f: digits.train(digits.mlp(4), epochs=0, progress=f if f is not True else False),
    ("Parameter.set_device_value", "host_current"): lambda f: w.set_device_value(np.ones(4), host_current=f),
    ("Model.logits", "training"): lambda f: digits.mlp(4, dropout=0.5).logits(gc.Variable("x", (None, 64)), f),
}
for _reduction in ("sum", "mean", "max", "min", "logsumexp", "prod", "var", "std", "argmax", "argmin", "norm"):
    CALLS[(_reduction, "keepdims")] = lambda f, r=_reduction: getattr(gc, r)(x, axis=1, keepdims=f)
for _method in ("sum", "mean", "max", "min", "prod", "var", "std", "argmax", "argmin"):
    CALLS[(f"Variable.{_method}", "keepdims")] = lambda f, m=_method: getattr(x, m)(axis=1, keepdims=f)

#: flags the inspection tools own (another part of the package validates them; listed so that a
#: flag appearing anywhere else without an entry in CALLS fails the discovery test)
INSPECTION = {("to_dot", "expand")}
#: flags checked otherwise: compile's loops is True, False or None (below); a Function is made by
#: gc.compile, which checks what it passes on
OTHERWISE = {("compile", "loops"), ("compile", "whole")} | {
    ("Function", p) for p in ("check_finite", "single", "verify_passes", "loops", "whole")
}

NOT_FLAGS = ["yes", "no", "True", "", 1, 0, 2, 1.0, None, [True], np.int64(1)]


def _short(qualname: str) -> str:
    return qualname.rsplit(".", 1)[-1] if not qualname.startswith(("Variable.", "Model.")) else qualname


def test_every_flag_of_the_public_api_is_covered():
    known = set(CALLS) | INSPECTION | OTHERWISE
    found = {(_short(n) if (_short(n), p) in known else n, p) for n, p in _discovered()}
    assert found - known == set(), "flags without a check in CALLS"
    assert {("adam", "amsgrad"), ("compile", "check_finite"), ("scan", "reverse")} <= found


@pytest.mark.parametrize("key", sorted(CALLS), ids=[f"{f}-{p}" for f, p in sorted(CALLS)])
def test_a_flag_that_is_not_a_bool_is_an_argument_error_naming_the_function_and_the_flag(key):
    name, flag = key
    call = CALLS[key]
    for value in NOT_FLAGS:
        with pytest.raises(gc.ArgumentError) as caught:
            call(value)
        text = str(caught.value)
        # the class behind gc.data.batches speaks as it; a Variable method as the function it calls
        who = "batches" if name == "Batches" else name.removeprefix("Variable.")
        assert f"{who}: {flag} must be True or False, got {value!r}" in text, text
    for value in (True, False, np.True_, np.False_):
        call(value)


def test_amsgrad_no_no_longer_turns_amsgrad_on():
    """The report's case: with amsgrad=False there is no max_exp_avg_sq state, with True there is."""
    names = {p.name for p in gc.optim.adam(cost, [w], amsgrad=False)}
    assert "w.max_exp_avg_sq" not in names
    assert "w.max_exp_avg_sq" in {p.name for p in gc.optim.adam(cost, [w], amsgrad=np.True_)}
    with pytest.raises(gc.ArgumentError, match=r"adam: amsgrad must be True or False, got 'no'.*test_flags.py"):
        gc.optim.adam(cost, [w], amsgrad="no")


def test_compile_loops_takes_none_as_well():
    for value in (None, True, False):
        gc.compile(cost, loops=value)
    for value in ("yes", 1, 0.0):
        with pytest.raises(gc.ArgumentError, match=r"compile: loops must be True, False or None"):
            gc.compile(cost, loops=value)


def test_compile_whole_takes_none_as_well():
    # whole=None/True on the NumPy backend: no whole-function mode to take, nothing refused
    # for None; True needs the Numba backend, said by name
    for value in (None, False):
        assert gc.compile(cost, whole=value).whole is False
    with pytest.raises(gc.ArgumentError, match=r"whole=True needs a backend with a whole-function mode"):
        gc.compile(cost, whole=True)
    for value in ("yes", 1, 0.0):
        with pytest.raises(gc.ArgumentError, match=r"compile: whole must be True, False or None"):
            gc.compile(cost, whole=value)
