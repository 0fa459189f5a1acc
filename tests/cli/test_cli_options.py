"""Every option of the graphcomp command is checked by argparse with a usage
error, and --help describes each one (issue 14, item 15); --svg and --dot write
the format their file's suffix names (item 12); the trace, the graph and the
picture printed together share one numbering (item 10)."""

from __future__ import annotations

import argparse
import re

import pytest

from graphcomp.cli.main import _parser, main

SEED = "exp(x*z) + x*z/log(x) + sin(log(x))/(x*z)"


def _usage_error(argv, capsys, option=None) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing computed, nothing printed
    assert "usage: graphcomp" in captured.err and "error:" in captured.err
    assert "Traceback" not in captured.err
    if option:
        assert option in captured.err
    return captured.err


@pytest.mark.parametrize("epochs", ["0", "-1", "-40", "2.5", "many", ""])
def test_train_epochs_must_be_a_positive_integer(epochs, capsys):
    """--epochs 0 crashed with IndexError after loading the data."""
    err = _usage_error(["train", "--epochs", epochs], capsys, "--epochs")
    assert "integer >= 1" in err


@pytest.mark.parametrize("seed", ["-1", str(2**32), "1e3", "x"])
def test_train_seed_must_be_a_32_bit_unsigned_integer(seed, capsys):
    _usage_error(["train", "--seed", seed], capsys, "--seed")


def test_train_model_is_one_of_the_two(capsys):
    _usage_error(["train", "--model", "rnn"], capsys, "--model")


@pytest.mark.parametrize(
    "argv, option",
    [
        (["grad", "x", "--at", "x=1", "--max-lines", "-1"], "--max-lines"),
        (["grad", "x", "--at", "x=1", "--max-lines", "ten"], "--max-lines"),
        (["grad", "x", "--at", ""], "--at"),
        (["grad", "x", "--at", "x"], "--at"),
        (["grad", "x", "--at", "x=1,x=2"], "--at"),
        (["grad", "x", "--at", "x=one"], "--at"),
        (["grad", "x*z", "--at", "x=1"], "--at"),  # no value for z
        (["grad", "x", "--at", "x=1,q=2"], "--at"),  # q is not in the expression
        (["grad", "x", "--wrt", "q", "--at", "x=1"], "--wrt"),
        (["grad", "x", "--wrt", "x,,", "--at", "x=1"], "--wrt"),
        (["grad", "x*z", "--wrt", "x,x", "--at", "x=1,z=2"], "--wrt"),
        (["grad", "x"], "--at"),  # required
        (["grad"], "expression"),
        ([], "grad,train"),
        (["fly"], "fly"),
    ],
)
def test_bad_grad_options_are_usage_errors(argv, option, capsys):
    _usage_error(argv, capsys, option)


@pytest.mark.parametrize(
    "option, name, wanted",
    [
        ("--svg", "out.png2", "suffix '.png2'"),
        ("--svg", "out", "suffix '(none)'"),
        ("--svg", "out.dot", "--dot"),  # a picture option given a source file
        ("--dot", "out.png", "--svg"),
        ("--dot", "out.txt", "suffix '.txt'"),
        ("--svg", "no/such/folder/out.svg", "does not exist"),
    ],
)
def test_file_options_check_the_suffix_and_the_folder(option, name, wanted, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    err = _usage_error(["grad", "x*x", "--at", "x=3", option, name], capsys, option)
    assert wanted in err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_help_describes_every_option(capsys):
    parser = _parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        assert main([name, "--help"]) == 0
        text = " ".join(capsys.readouterr().out.split())
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help and action.help != argparse.SUPPRESS, (name, action.dest)
            assert " ".join(action.help.split()) in text, (name, action.dest)  # shown, not only declared
            if action.default not in (None, False) and action.option_strings:
                assert f"default: {action.default}" in action.help, (name, action.dest)


def _png(data: bytes) -> bool:
    return data[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "name, check",
    [
        ("seed.svg", lambda b: b.lstrip().startswith((b"<?xml", b"<svg")) and b"<svg" in b),
        ("seed.png", _png),
        ("seed.PDF", lambda b: b.startswith(b"%PDF-")),
        ("seed.gv", lambda b: b.startswith(b"digraph")),
    ],
)
def test_svg_and_dot_write_the_format_the_suffix_names(name, check, tmp_path, capsys):
    """--svg out.png wrote DOT source into out.png and said it had succeeded."""
    path = tmp_path / name
    option = "--dot" if name.endswith(".gv") else "--svg"
    assert main(["grad", "x*z", "--at", "x=2,z=3", "--max-lines", "0", option, str(path)]) == 0
    assert f"wrote {path}" in capsys.readouterr().out
    assert check(path.read_bytes())


def test_the_trace_and_the_gradient_graph_number_each_node_alike(capsys):
    """graphcomp grad --trace printed exp#5 in the trace and #3 for the same node in the graph."""
    assert main(["grad", SEED, "--at", "x=2,z=3", "--trace"]) == 0
    out = capsys.readouterr().out
    trace, graph = out.split("gradient graph (")
    in_trace = set(re.findall(r"\b([a-z_]+)#(\d+)", trace))
    in_graph = {(op, k) for op, k in re.findall(r"^\s*([a-z_]+)  #(\d+)", graph, re.M)}
    graph_ops = {k: op for op, k in in_graph}
    shared = [(op, k) for op, k in in_trace if k in graph_ops]
    assert len(shared) >= 10  # most nodes appear in both
    for op, k in shared:
        assert graph_ops[k] == op, (op, k)  # the same number is the same node
    exp_in_trace = {k for op, k in in_trace if op == "exp"}
    exp_in_graph = {k for op, k in in_graph if op == "exp"}
    assert exp_in_trace and exp_in_trace == exp_in_graph
    # every term the trace names for x's gradient is a node of the gradient graph
    terms = re.findall(r"bprop\(get_inputs\(\w+#\d+\), x, D\)  -> ([a-z_]+)#(\d+)", trace)
    assert len(terms) == 5 and all(k in graph_ops and graph_ops[k] == op for op, k in terms)


def test_numpys_warnings_are_printed_with_the_graphs_numbers(capsys):
    """log(-1) and sqrt(-2) are NaN (NumPy warns); the command names each node as its graph does."""
    assert main(["grad", "log(x)*sqrt(z)", "--at", "x=-1,z=-2"]) == 0
    out = capsys.readouterr().out
    warned = dict(re.findall(r"^warning   ([a-z]+)#(\d+): invalid value encountered in \1$", out, re.M))
    assert set(warned) == {"log", "sqrt"}
    graph = out.split("gradient graph (")[1]
    for op, k in warned.items():
        assert re.search(rf"^\s*{op}  #{k}  \(\) float64$", graph, re.M), (op, k)
