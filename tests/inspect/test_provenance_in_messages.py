"""Constants carry dprint's #k in to_dot's picture, and a NumPy warning raised in a
gradient node names the forward op whose gradient it belongs to (user report 1,
item 9). The oracles are dprint's own text and the lines the test built each node on."""

from __future__ import annotations

import inspect
import io
import re
import warnings

import numpy as np

import graphcomp as gc


def test_to_dot_numbers_constants_as_dprint_does():
    x = gc.Variable("x", (3,))
    y = gc.tanh(x * 1.01 + 0.1)
    out = io.StringIO()
    gc.dprint(y, file=out)
    numbered = dict(re.findall(r"^\s*(\S+) \(constant\)  #(\d+)", out.getvalue(), re.M))  # value -> k
    assert set(numbered) == {"1.01", "0.1"}
    src = gc.to_dot(y)
    labels = re.findall(r'label="([^"]*)"', src)
    for value, k in numbered.items():
        assert f"{value}  #{k}" in labels, (value, k, labels)
    assert "1.01  #" in "".join(t for _, (t, _) in src.picture.nodes.items())  # the fallback draws the same


def _line() -> int:
    return inspect.currentframe().f_back.f_lineno


def test_a_warning_in_a_gradient_node_names_the_forward_op_it_is_the_gradient_of():
    """d sum(log x)/dx = 1/x divides by zero at x = 0, in a divide node gc.grad inserted
    for log: the warning names that divide, the gc.grad line, and log with its line."""
    x = gc.Variable("x", (2,))
    y = gc.sum(gc.log(x))
    log_line = _line() - 1
    g = gc.grad(y, x)
    grad_line = _line() - 1
    for run in (lambda: gc.evaluate(g, {x: np.array([0.0, 1.0])}), lambda: gc.compile(g, [x])(np.array([0.0, 1.0]))):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", gc.NodeWarning)
            run()
        messages = [str(w.message) for w in caught if isinstance(w.message, gc.NodeWarning)]
        assert len(messages) == 1, messages
        here = "test_provenance_in_messages.py"
        assert f"built at {here}:{grad_line}, in the gradient of log built at {here}:{log_line}" in messages[0]
        assert caught[0].message.node.grad_of is y.owner.inputs[0]  # provenance: the log node


def test_a_warning_in_a_forward_node_is_unchanged():
    x = gc.Variable("x", (2,))
    y = gc.log(x)
    here = _line() - 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", gc.NodeWarning)
        gc.evaluate(y, {x: np.array([-1.0, 1.0])})
    assert str(caught[0].message).endswith(f"(node log, built at test_provenance_in_messages.py:{here})")
