"""Static shapes with unknown dimensions, and axis normalisation."""

from __future__ import annotations

import pytest

from graphcomp.core.types import broadcast_shapes, normalize_axes, shapes_compatible
from graphcomp.errors import ShapeError


@pytest.mark.parametrize(
    "a, b, out",
    [
        ((3, 4), (4,), (3, 4)),
        ((None, 1), (3,), (None, 3)),
        ((None,), (None,), (None,)),
        ((1,), (None,), (None,)),
        ((), (2, None), (2, None)),
        ((2, 1, 4), (3, 1), (2, 3, 4)),
    ],
)
def test_broadcast_shapes(a, b, out):
    assert broadcast_shapes(a, b) == out


def test_broadcast_shapes_refuses_and_names_both_shapes():
    with pytest.raises(ShapeError, match=r"\(3,\) and \(4,\)"):
        broadcast_shapes((3,), (4,))


def test_shapes_compatible():
    assert shapes_compatible((None, 3), (5, 3)) and not shapes_compatible((2,), (2, 1))


def test_normalize_axes():
    assert normalize_axes((-1, 0), 3, "sum") == (0, 2)
    with pytest.raises(ShapeError, match="repeated"):
        normalize_axes((0, -3), 3, "sum")
