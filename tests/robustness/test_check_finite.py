"""check_finite stops at the FIRST node whose output holds NaN or Inf."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc


def test_evaluate_and_compile_stop_at_the_first_non_finite_node():
    x = gc.Variable("x", (3,))
    first = gc.log(x)  # -inf at x = 0 ...
    later = first * 0.0  # ... then nan: later nodes must not be blamed
    y = (later + gc.exp(x)).sum()
    for run in (lambda: gc.evaluate(y, {x: [1.0, 0.0, 2.0]}, check_finite=True),
                lambda: gc.compile(y, check_finite=True)([1.0, 0.0, 2.0])):  # fmt: skip
        with pytest.raises(gc.NonFiniteError) as e:
            run()
        assert e.value.node is first
        message = str(e.value)
        assert message.startswith("log produced inf in 1 of 3 element(s)")
        assert "x: (3,) float64 min 0 max 2, 0 non-finite" in message and "test_check_finite.py" in message


def test_off_by_default_and_silent_when_everything_is_finite():
    x = gc.Variable("x", (2,))
    with np.errstate(divide="ignore"):
        assert np.isinf(gc.evaluate(gc.log(x), {x: [0.0, 1.0]})[0])  # default: no check
    assert gc.evaluate(gc.log(x), {x: [1.0, 2.0]}, check_finite=True)[0] == 0.0


def test_a_gradient_turned_nan_by_an_untaken_where_branch_is_caught_where_it_starts():
    """log's bprop G / x meets G = 0 from the untaken branch: 0 / 0 is the first nan."""
    x = gc.Variable("x")
    g = gc.grad(gc.where(x > 0, gc.log(x), 0.0), x)
    with pytest.raises(gc.NonFiniteError, match=r"^divide produced nan.*where: \(\) float64 min 0 max 0"):
        gc.evaluate(g, {x: 0.0}, check_finite=True)
