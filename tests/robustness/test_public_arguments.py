"""Every public function validates its plain arguments (axis, shape, keepdims, sizes,
strides, rates...): a wrong one raises a graphcomp error that names the function, never
a bare TypeError or ValueError from deep inside (issue #14 item 13, the whole kind)."""

from __future__ import annotations

import inspect
import types

import numpy as np
import pytest

import graphcomp as gc

#: parameters that take arrays (Variables, numbers, arrays): given good values here
OPERANDS = {"x", "y", "a", "b", "w", "cond", "logits", "labels", "pred", "target", "xs", "v", "mask", "operands",
            "a_min", "a_max", "y_", "gamma", "beta", "value", "output"}  # fmt: skip
#: parameters that are not plain arguments of a graph-building function
SKIP = {
    "outputs",
    "wrt",
    "cost",
    "feed",
    "inputs",
    "targets",
    "fn",
    "f",
    "init",
    "body",
    "path",
    "expr",
    "variables",
    "z",
    "G",
    "G_pruned",
    "grad_table",
    "V",
    "params",
    "rng",
    "consider_constant",
    "numbering",
    "bprop",
    "name",
    "subscripts",
    "updates",
    "backend",
    "shard",
    "trace",
}  # fmt: skip (trace: checked with the inspection tools)
JUNK = [1.5, "ab", -3, [1.5], {}, object(), (0, 0, 0, 0, 0, 0), (0, 1), True, None]


def _public_builders():
    out = []
    for name in gc.__all__:
        fn = getattr(gc, name)
        if not isinstance(fn, types.FunctionType):
            continue
        params = inspect.signature(fn).parameters
        positional = inspect.Parameter.VAR_POSITIONAL
        plain = [p for p in params if p not in OPERANDS | SKIP and params[p].kind is not positional]
        if any(p in SKIP for p in params) or not plain:
            continue
        out.append((name, fn, plain))
    return out


BUILDERS = _public_builders()


def test_the_functions_with_plain_arguments_are_found():
    names = {n for n, *_ in BUILDERS}
    assert {"sum", "mean", "max", "reshape", "transpose", "stack", "conv2d", "max_pool2d", "softmax"} <= names


@pytest.mark.parametrize("name, fn, plain", BUILDERS, ids=[b[0] for b in BUILDERS])
def test_a_wrong_plain_argument_is_a_graphcomp_error_naming_the_function(name, fn, plain):
    params = inspect.signature(fn).parameters
    for arg in plain:
        for junk in JUNK:
            kwargs = {}
            args = []
            for p, spec in params.items():
                if p in OPERANDS and spec.default is inspect.Parameter.empty:
                    args.append(gc.Variable(p, (2, 3, 4, 5)) if p != "xs" else [gc.Variable("a", (2, 3))] * 2)
            kwargs[arg] = junk
            try:
                fn(*args, **kwargs)
            except gc.GraphError as e:
                assert name in str(e), f"{name}({arg}={junk!r}): the message does not name {name}: {e}"
            except Exception as e:  # noqa: BLE001 - what this test looks for
                pytest.fail(f"{name}({arg}={junk!r}) raised a bare {type(e).__name__}: {e}")


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda s: gc.max(s, 2.0), r"max: axis must be an int or a tuple of ints, got 2\.0"),
        (lambda s: gc.sum(s, 1.5), r"sum: axis must be an int or a tuple of ints, got 1\.5"),
        (lambda s: gc.sum(s, keepdims="yes"), r"sum: keepdims must be True or False, got 'yes'"),
    ],
)
def test_the_issues_examples(call, message):
    s = gc.Variable("s", (3,))
    with pytest.raises(gc.ArgumentError, match=message):
        call(s)
    _ = np  # the module's oracle is the error category, not a value
