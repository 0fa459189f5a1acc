"""Every public function validates its plain arguments (axis, shape, keepdims, sizes,
strides, rates...): a wrong one raises a graphcomp error that names the function, never
a bare TypeError or ValueError from deep inside (issue #14 item 13, the whole kind)."""

from __future__ import annotations

import inspect
import re
import types
import warnings

import numpy as np
import pytest

import graphcomp as gc

#: parameters that take arrays (Variables, numbers, arrays): given good values here
OPERANDS = {"x", "y", "a", "b", "w", "cond", "logits", "labels", "pred", "target", "xs", "v", "mask", "operands",
            "a_min", "a_max", "y_", "gamma", "beta", "value", "output", "like"}  # fmt: skip
#: parameters no junk is tried on: callables and graphs other tests build (loops, op_from_graph,
#: elementwise, SymPy), build_grad's internals, names and the training toolkit's own
SKIP = {"fn", "f", "init", "body", "expr", "variables", "G", "G_pruned", "V", "params", "rng", "bprop", "name",
        "subscripts", "shard"}  # fmt: skip
#: a valid value for each required plain argument, used while another argument gets the junk
VALID = {"pad_width": 1, "shape": (2, 3), "n": 3, "start": 3, "dtype": "float64", "axis": 0, "value": 1.0,
         "num_classes": 3}  # fmt: skip
JUNK = [1.5, "ab", -3, [1.5], {}, object(), (0, 0, 0, 0, 0, 0), (0, 1), True, None]


def _context(tmp_path) -> dict:
    """Valid values for the arguments that take a graph (the inspection and run-time tools'):
    by name, and by (function, name) where one name means two things."""
    x = gc.Variable("x", (2, 3))
    cost = gc.sum(x * x)
    r = gc.backprop(cost, [x], trace=True)
    feed = {x: np.ones((2, 3))}
    return {
        "outputs": cost, "wrt": x, "cost": cost, "z": cost, "targets": [x], "inputs": [x], "feed": feed,
        "grads": gc.grad(cost, x), "path": str(tmp_path / "graph.gcg"),
        ("format_trace", "trace"): r, ("replay", "trace"): r, ("hvp", "x"): x, ("hessian", "x"): x,
        ("explain_grad", "x"): x, ("jvp", "x"): x, ("jvp", "y"): cost, ("jvp", "v"): np.ones((2, 3)),
        ("hvp", "v"): np.ones((2, 3)), ("jacobian", "x"): x, ("jacobian", "y"): cost, ("to_sympy", "output"): cost,
    }  # fmt: skip


#: arguments that take a graph or a feed: valid values from _context while another argument gets the
#: junk, and junk themselves (a function must refuse a non-Variable for them by name)
STRUCTURE = {"outputs", "wrt", "cost", "z", "targets", "inputs", "feed", "grads", "path"}


def _public_builders():
    out = []
    for name in gc.__all__:
        fn = getattr(gc, name)
        if not isinstance(fn, types.FunctionType):
            continue
        params = inspect.signature(fn).parameters
        positional = inspect.Parameter.VAR_POSITIONAL
        if any(p in SKIP and params[p].default is inspect.Parameter.empty for p in params):
            continue
        plain = [p for p in params if p not in OPERANDS | SKIP and params[p].kind is not positional]
        if not plain:
            continue
        out.append((name, fn, plain))
    return out


BUILDERS = _public_builders()


def test_the_functions_with_plain_arguments_are_found():
    names = {n for n, *_ in BUILDERS}
    assert {"sum", "mean", "max", "reshape", "transpose", "stack", "conv2d", "max_pool2d", "softmax"} <= names
    inspection = {
        "dprint",
        "to_dot",
        "format_trace",
        "replay",
        "check_grad",
        "explain_grad",
        "cost_report",
        "save",
        "load",
        "evaluate",
        "compile",
        "grad",
        "backprop",
        "hessian",
        "hvp",
        "jacobian",
        "jvp",
        "prune",
    }
    assert inspection <= names, inspection - names


def _valid(name, p, ctx):
    for key in ((name, p), p):
        if key in ctx:
            return ctx[key]
    if p in OPERANDS:
        return gc.Variable(p, (2, 3, 4, 5)) if p != "xs" else [gc.Variable("a", (2, 3))] * 2
    assert p in VALID, f"{name}: give the required argument {p!r} a valid value in VALID or _context"
    return VALID[p]


@pytest.mark.parametrize("name, fn, plain", BUILDERS, ids=[b[0] for b in BUILDERS])
def test_a_wrong_plain_argument_is_a_graphcomp_error_naming_the_function(name, fn, plain, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a junk path that is a valid name ("ab") is written here
    params = inspect.signature(fn).parameters
    ctx = _context(tmp_path)
    for arg in plain:
        for junk in JUNK:
            kwargs = {}
            for p, spec in params.items():
                if spec.kind is inspect.Parameter.VAR_POSITIONAL:
                    continue
                if p != arg and (spec.default is inspect.Parameter.empty or p in STRUCTURE):
                    kwargs[p] = _valid(name, p, ctx)
            kwargs[arg] = junk
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # a flag passed on to a library may warn; errors are the point
                    fn(**kwargs)
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


def _graph():
    x = gc.Variable("x", (3,))
    return x, gc.sum(gc.exp(x) * x)


@pytest.mark.parametrize(
    "call, message",
    [  # user report 1, item 8: bare Python errors and silently accepted values, now named
        (lambda x, c: gc.cost_report(3, [], {}), r"cost_report: cost must be a Variable, got int: 3"),
        (lambda x, c: gc.dprint(x, max_lines="a"), r"dprint: max_lines must be an int >= 0, got 'a'"),
        (lambda x, c: gc.dprint(x, max_lines=-1), r"dprint: max_lines must be an int >= 0, got -1"),
        (lambda x, c: gc.dprint(x, file=3), r"dprint: file must be a text stream"),
        (lambda x, c: gc.dprint(3), r"dprint: outputs must be a Variable"),
        (lambda x, c: gc.to_dot(x, max_nodes=1.5), r"to_dot: max_nodes must be an int >= 1, got 1\.5"),
        (lambda x, c: gc.to_dot(x, max_nodes=0), r"to_dot: max_nodes must be an int >= 1, got 0"),
        (lambda x, c: gc.to_dot(x, max_nodes=-5), r"to_dot: max_nodes must be an int >= 1, got -5"),
        (lambda x, c: gc.to_dot(x, title=5), r"to_dot: title must be a string or None, got 5"),
        (lambda x, c: gc.to_dot(x, rankdir="XX"), r"to_dot: rankdir must be one of 'LR', 'RL', 'TB', 'BT'"),
        (lambda x, c: gc.to_dot(x, expand="yes"), r"to_dot: expand must be True or False"),
        (lambda x, c: gc.to_dot(x, feed=[1.0]), r"to_dot: feed must be a mapping"),
        (lambda x, c: gc.to_dot(c, feed={}), r"to_dot: no value was fed for input 'x'"),
        (lambda x, c: gc.hvp(c, x, "a"), r"hvp: v must be a Variable or an array of x's shape, got 'a'"),
        (lambda x, c: gc.save(x, 5), r"save: path must be a file name"),
        (lambda x, c: gc.load(5), r"load: path must be a file name"),
        (lambda x, c: gc.Numbering(x).describe(5), r"Numbering\.describe: v must be a Variable or None, got 5"),
        (lambda x, c: gc.Numbering(3), r"Numbering: outputs must be a Variable"),
        (lambda x, c: gc.Numbering(x).add("x"), r"Numbering\.add: outputs must be a Variable"),
        (lambda x, c: gc.Numbering(x)[3], r"Numbering\[v\]: v must be a Variable"),
        (
            lambda x, c: gc.format_trace(gc.backprop(c, [x])),
            r"format_trace: this gc\.backprop result recorded no "
            r"trace \(it was built without trace=True\)",
        ),
        (lambda x, c: list(gc.replay(gc.backprop(c, [x]))), r"replay: this gc\.backprop result recorded no trace"),
        (lambda x, c: gc.format_trace(gc.backprop(c, [x], trace=True), numbering=3), r"format_trace: numbering must"),
        (lambda x, c: gc.compile(c, [x], passes=3), r"compile: passes must be a pass name or a sequence of them"),
        (lambda x, c: gc.compile(c, [x], passes="merg"), r"compile: unknown pass\(es\) \['merg'\]"),
        (lambda x, c: gc.compile(c, [x], check_finite="yes"), r"compile: check_finite must be True or False"),
        (lambda x, c: gc.compile(c, [x], verify_passes="y"), r"compile: verify_passes must be True or False"),
        (lambda x, c: gc.compile([], [x]), r"compile: outputs must hold at least one Variable"),
        (lambda x, c: gc.evaluate(c, {x: np.ones(3)}, check_finite=2), r"evaluate: check_finite must be True or False"),
        (lambda x, c: gc.evaluate(c, {}), r"evaluate: no value was fed for input 'x'"),
        (lambda x, c: gc.backprop(c, [x], trace="yes"), r"backprop: trace must be True or False"),
        (lambda x, c: gc.jacobian(c, x, disconnected="maybe"), r'jacobian: disconnected must be "raise" or "zero"'),
        (lambda x, c: gc.hessian(c, x, consider_constant=5), r"hessian: consider_constant must be"),
        (lambda x, c: gc.to_dot(c).render("svg", timeout=-1), r"render: timeout must be a positive number"),
        (lambda x, c: gc.to_dot(c).save(5), r"save: path must be a file name"),
    ],
)
def test_the_inspection_and_run_time_tools_name_themselves_and_the_argument(call, message):
    x, c = _graph()
    with pytest.raises(gc.GraphError, match=message):
        call(x, c)


def test_compile_takes_one_pass_name_as_that_pass_not_its_letters():
    """passes="merge" was split into ['e', 'g', 'm', 'r']; it is the merge pass alone, as ["merge"]."""
    x = gc.Variable("x", (3,))
    y = gc.exp(x) + gc.exp(x)  # two equal nodes: merge makes them one
    one, listed = gc.compile(y, [x], passes="merge"), gc.compile(y, [x], passes=["merge"])
    assert re.sub(r"_v\d+", "_v", one.source) == re.sub(r"_v\d+", "_v", listed.source)
    assert one.source.count("_exp(") == 1 < gc.compile(y, [x], passes=[]).source.count("_exp(")
    np.testing.assert_allclose(one(np.arange(3.0)), 2 * np.exp(np.arange(3.0)))


def test_a_missing_file_is_a_load_error_and_python_s_file_not_found(tmp_path):
    with pytest.raises(gc.LoadError, match="load: there is no file") as caught:
        gc.load(tmp_path / "none.gcz")
    assert isinstance(caught.value, FileNotFoundError)
