"""The graphcomp command: the seed example's numbers, and a parser that only parses."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sympy as sp

from graphcomp.cli.expr import ExpressionError, build_expression, expression_names
from graphcomp.cli.main import main

SEED = "exp(x*z) + x*z/log(x) + sin(log(x))/(x*z)"


def _sympy_numbers():
    x, z = sp.symbols("x z", positive=True)
    y = sp.exp(x * z) + x * z / sp.log(x) + sp.sin(sp.log(x)) / (x * z)
    at = {x: 2, z: 3}
    return [float(e.evalf(subs=at)) for e in (y, sp.diff(y, x), sp.diff(y, z))]


def test_seed_example_prints_value_gradients_and_graph(capsys):
    assert main(["grad", SEED, "--wrt", "x,z", "--at", "x=2,z=3"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    y, dx, dz = _sympy_numbers()
    values = [float(line.split("=")[-1]) for line in lines[2:5]]
    assert values == pytest.approx([y, dx, dz], rel=1e-13)
    assert lines[3].startswith("gradient  dy/dx") and lines[4].startswith("gradient  dy/dz")
    assert "gradient graph (dy/dx, dy/dz):" in out and "[grad" in out and "x (input)" in out


def test_the_console_command_is_installed_and_runs():
    exe = os.path.join(os.path.dirname(sys.executable), "graphcomp")
    done = subprocess.run([exe, "grad", "x*x", "--at", "x=3", "--max-lines", "0"], capture_output=True, text=True)
    assert done.returncode == 0 and "dy/dx = 6.0" in done.stdout


@pytest.mark.parametrize(
    "text, message",
    [
        ("__import__('os').system('touch /tmp/graphcomp-pwned')", "unsupported syntax 'Attribute'"),
        ("open('/etc/passwd')", "unknown function 'open'"),
        ("x.real", "unsupported syntax 'Attribute' at column 1"),
        ("(lambda: 1)()", "unsupported syntax 'Lambda'"),
        ("[x for x in y]", "unsupported syntax 'ListComp'"),
        ("x if x else z", "unsupported syntax 'IfExp'"),
        ("x + 'a'", "unsupported constant 'a'"),
        ("x + (1", "syntax error at column"),
        ("exp(x, z)", "exp takes 1 argument"),
        ("exp(x=1)", "keyword arguments"),
        ("x // z", "unsupported syntax 'FloorDiv'"),
        ("x @ z", "unsupported syntax 'MatMult'"),
        ("exp + x", "'exp' is a function"),
        ("__class__ + x", "underscore"),
        ("", "empty"),
    ],
)
def test_bad_expressions_get_a_one_line_error(text, message):
    with pytest.raises(ExpressionError, match=message) as e:
        expression_names(text)
    assert "\n" not in str(e.value)


def test_nothing_is_run(tmp_path, capsys):
    marker = tmp_path / "pwned"
    code = main(["grad", f"__import__('os').system('touch {marker}')", "--at", "x=1"])
    assert code == 2 and not marker.exists()
    err = capsys.readouterr().err
    assert err.startswith("graphcomp: error:") and err.count("\n") == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (["grad", "x*z", "--at", "x=1"], "no value for z"),
        (["grad", "x", "--at", "x=1,q=2"], "does not use"),
        (["grad", "x", "--at", "x=one"], "not a number"),
        (["grad", "x", "--wrt", "q", "--at", "x=1"], "--wrt 'q'"),
        (["grad", "x", "--at", "x=1,x=2"], "--at gives x twice"),  # not silently the last one
        (["grad", "x*z", "--wrt", "x,x", "--at", "x=1,z=2"], "--wrt names x twice"),
    ],
)
def test_bad_arguments_are_explained(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_expression_builder_follows_python_precedence():
    import graphcomp as gc

    x = gc.Variable("x")
    y = build_expression("-x**2 + 2*x - 1/x", {"x": x})
    assert float(gc.evaluate(y, {x: 2.0})) == -4 + 4 - 0.5


def test_sympy_trace_dot_and_svg_flags(tmp_path, capsys):
    dot, svg = tmp_path / "seed.dot", tmp_path / "seed.svg"
    argv = ["grad", SEED, "--wrt", "x,z", "--at", "x=2,z=3", "--sympy", "--trace", "--dot", str(dot), "--svg", str(svg)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    closed = [line for line in out.splitlines() if line.startswith("  dy/dx = ")][0]
    x, z = sp.symbols("x z", real=True)
    y = sp.exp(x * z) + x * z / sp.log(x) + sp.sin(sp.log(x)) / (x * z)
    assert sp.simplify(sp.sympify(closed.split("=", 1)[1], locals={"x": x, "z": z}) - sp.diff(y, x)) == 0
    assert "build_grad(x): its consumers in G′" in out and "memo" not in out
    assert dot.read_text().startswith("digraph") and "<svg" in svg.read_text()


def test_an_expression_with_a_variable_y_names_its_output_f(capsys):
    """The output is y as in the lectures, but not when y is an input: dy/dy would read as 1."""
    assert main(["grad", "sin(x)*cos(y)", "--at", "x=1,y=2", "--sympy", "--max-lines", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "f = sin(x)*cos(y)"
    assert [line.split("=")[0].split()[-1] for line in lines[2:5]] == ["f", "df/dx", "df/dy"]
    x, y = sp.symbols("x y", real=True)
    df_dy = float(sp.diff(sp.sin(x) * sp.cos(y), y).subs({x: 1, y: 2}))
    assert float(lines[4].split("=")[-1]) == pytest.approx(df_dy, rel=1e-14)
    assert "  df/dy = -sin(x)*sin(y)" in lines
    assert main(["grad", "f*y", "--at", "f=1,y=2", "--max-lines", "0"]) == 0
    assert capsys.readouterr().out.startswith("g = f*y")
