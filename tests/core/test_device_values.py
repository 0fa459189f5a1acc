"""A Parameter whose current value a device backend holds (``set_device_value``): NumPy
gets a copy only when it asks, once; ``set_value`` makes NumPy's value current again.
A NumPy array stands in for the device's array, so this runs without JAX."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc


class Counted:
    """An array-like standing for a device array: its shape and dtype, and a count of
    how often it is copied back to NumPy (``__array__``)."""

    reads = 0

    def __init__(self, values):
        self._values = np.array(values, dtype=np.float64)
        self.shape, self.dtype = self._values.shape, self._values.dtype

    def __array__(self, dtype=None, copy=None):
        Counted.reads += 1
        return self._values.copy()


def _device(values) -> Counted:
    return Counted(values)


def test_the_numpy_copy_is_made_when_asked_and_only_once():
    w = gc.Parameter([1.0, 2.0], "w")
    assert w.device_value() is None
    Counted.reads = 0
    w.set_device_value(_device([3.0, 4.0]))
    assert Counted.reads == 0  # nothing copied yet
    assert w.get_value().tolist() == [3.0, 4.0]
    assert w.value.tolist() == [3.0, 4.0] and not w.value.flags.writeable
    assert Counted.reads == 1
    assert float(gc.compile(w.sum(), [])()) == 7.0  # the NumPy backend reads the same copy
    assert Counted.reads == 1


def test_a_device_copy_of_the_current_value_keeps_the_numpy_value_current():
    w = gc.Parameter([1.0, 2.0], "w")
    host = w.value
    Counted.reads = 0
    w.set_device_value(_device([1.0, 2.0]), host_current=True)
    assert w.value is host and Counted.reads == 0


def test_set_value_replaces_the_device_value():
    w = gc.Parameter([1.0, 2.0], "w")
    w.set_device_value(_device([3.0, 4.0]))
    w.set_value([5.0, 6.0])
    assert w.device_value() is None and w.get_value().tolist() == [5.0, 6.0]


def test_a_device_value_of_another_shape_or_dtype_is_refused():
    w = gc.Parameter([1.0, 2.0], "w")
    with pytest.raises(gc.InputError, match=r"shape \(3,\).*\(2,\) float64 Parameter"):
        w.set_device_value(_device([1.0, 2.0, 3.0]))
    with pytest.raises(gc.InputError, match="float32"):
        w.set_device_value(np.zeros(2, np.float32))
    assert w.get_value().tolist() == [1.0, 2.0]
