"""``import graphcomp`` stays light: SymPy and networkx load when first used.

Each check runs in a fresh interpreter, since this test process has imported
both already.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_import_loads_neither_sympy_nor_networkx():
    out = _run(
        """
        import io, sys
        import graphcomp as gc
        x = gc.Variable("x", (3,))
        g = gc.grad(gc.sum(gc.tanh(x) * 2.0), x)
        f = gc.compile([g])
        f([1.0, 2.0, 3.0]); gc.to_dot(g); gc.dprint(g, file=io.StringIO())
        print("sympy" in sys.modules, "networkx" in sys.modules)
        """
    )
    assert out == "False False"


def test_the_lazy_names_work_in_a_fresh_process():
    out = _run(
        """
        import graphcomp as gc
        from graphcomp import from_sympy
        import sympy as sp
        x = gc.Variable("x")
        e = gc.to_sympy(gc.grad(gc.exp(x) * x, x))
        y = from_sympy(sp.sin(sp.Symbol("x")) * 2, [x])
        (s,) = e.free_symbols
        print(sp.simplify(e - sp.exp(s) * (s + 1)) == 0, float(gc.evaluate(y, {x: 0.5})))
        print(gc.Graph(x * 2.0).to_networkx().number_of_nodes())
        print(all(hasattr(gc, name) for name in gc.__all__), "to_sympy" in dir(gc))
        """
    )
    import math

    lines = out.splitlines()
    first, value = lines[0].split()
    assert first == "True" and math.isclose(float(value), 2 * math.sin(0.5))
    assert lines[1] == "4"  # x, the constant 2, the multiply application and its output
    assert lines[2] == "True True"


def test_an_unknown_name_is_an_attribute_error():
    import pytest

    import graphcomp as gc

    with pytest.raises(AttributeError, match="no attribute 'to_sympi'"):
        gc.to_sympi  # noqa: B018


def test_a_sympy_op_saves_and_loads_in_a_fresh_process(tmp_path):
    path = tmp_path / "swish.gcz"
    out = _run(
        f"""
        import graphcomp as gc, sympy as sp
        t = sp.Symbol("t")
        x = gc.Variable("x")
        y = gc.elementwise(t / (1 + sp.exp(-t)), [t])(x)
        gc.save(y, {str(path)!r})
        """
    )
    assert out == ""
    out = _run(
        f"""
        import sys, graphcomp as gc
        y = gc.load({str(path)!r})  # the SymPy op's parameters bring SymPy in
        x = y.owner.inputs[0]
        print(float(gc.evaluate(gc.grad(y, x), {{x: 0.0}})), "sympy" in sys.modules)
        """
    )
    value, loaded = out.split()
    assert float(value) == 0.5 and loaded == "True"  # swish'(0) = sigmoid(0) = 1/2
