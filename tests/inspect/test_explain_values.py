"""explain_grad on values: it names a node the user built (a helper node with the op it
serves), and each reason it gives is one it checked on the values (issue #14 item 9)."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc
from graphcomp.inspect.explain import _where


@pytest.mark.parametrize("shape", [(4,), (None,)], ids=["known", "unknown"])
def test_textbook_binary_cross_entropy_at_p_one_names_the_users_log(shape):
    p, y = gc.Variable("p", shape), gc.Variable("y", shape)
    log_p, log_q = gc.log(p), gc.log(1 - p)
    cost = -(y * log_p + (1 - y) * log_q).mean()
    feed = {p: np.array([0.2, 1.0, 0.5, 0.7]), y: np.array([1.0, 1.0, 0.0, 1.0])}
    with np.errstate(all="ignore"):  # the oracle: the cost really is not finite, log(1 - 1) = -inf
        assert not np.isfinite(-(feed[y] * np.log(feed[p]) + (1 - feed[y]) * np.log(1 - feed[p])).mean())
    e = gc.explain_grad(cost, p, feed)
    text = str(e)
    assert e.status == "non-finite" and e.node is log_q
    assert "-inf" in text and "is 0" in text and "dlog/dsubtract is inf" in text
    assert "binary_cross_entropy_with_logits" in text and "test_explain_values.py" in text
    assert "where" not in text.split("Keep")[0].replace("where subtract", "")  # no where in this graph
    assert "size_of" not in text and "untaken" not in text


def test_a_power_at_zero_is_its_own_infinite_derivative_not_a_where():
    x = gc.Variable("x")
    y = x**0.5
    e = gc.explain_grad(y, x, {x: 0.0})
    assert e.status == "non-finite" and e.node is y
    assert "local derivative with respect to x is not finite where x is 0" in str(e)
    assert "untaken" not in str(e)
    with np.errstate(divide="ignore"):  # the oracle: d sqrt(x)/dx = 1/(2 sqrt(x)) is infinite at 0
        assert np.isinf(0.5 / np.sqrt(np.float64(0.0)))


def test_the_untaken_where_branch_is_named_only_when_a_where_gives_the_zero():
    x = gc.Variable("x")
    lg = gc.log(x)
    w = gc.where(x > 0, lg, 0.0)
    e = gc.explain_grad(w, x, {x: 0.0})
    assert e.node is lg and "untaken branch of a where" in str(e) and f"built at {w.site}" in str(e)
    # a zero that is not a where's: no where is blamed
    e = gc.explain_grad(gc.log(x) * gc.stop_gradient(x), x, {x: 0.0})
    assert e.status == "non-finite" and "untaken" not in str(e)


def test_a_helper_node_is_named_with_the_users_op_it_serves():
    x = gc.Variable("x", (None,))
    m = gc.mean(x)
    size_of = next(i for i in m.owner.inputs if i.owner is not None and i.owner.op.helper)
    consumers = gc.Graph(m).consumers
    assert f"a helper of {m.label()}" in _where(size_of, consumers) and str(m.site) in _where(size_of, consumers)
    assert "helper" not in _where(m, consumers)
