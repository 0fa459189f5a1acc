"""What compile's updates, the optimisers' step counters and gc.data.batches do with the
values they are given (user report 1, item 9): an update is stored only when its dtype
casts to its Parameter's without loss (NumPy's "safe" rule, as fed values), a refused
update at run time assigns nothing, a step counter other than the schedule's is said,
and batches never alias the caller's arrays. Oracles: NumPy's can_cast, PyTorch's
DataLoader and the closed forms of the updates."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import graphcomp as gc

DTYPES = ["float16", "float32", "float64", "int32", "int64", "bool"]


@pytest.mark.parametrize("param_dtype", DTYPES)
@pytest.mark.parametrize("update_dtype", DTYPES)
def test_an_update_is_stored_exactly_when_numpy_casts_it_safely(param_dtype, update_dtype):
    p = gc.Parameter(np.zeros(2, param_dtype), "p")
    new = gc.Variable("new", (2,), update_dtype)
    if np.can_cast(update_dtype, param_dtype, "safe"):
        f = gc.compile([], [new], updates={p: new})
        f(np.ones(2, update_dtype))
        assert p.value.dtype == np.dtype(param_dtype) and np.array_equal(p.value, np.ones(2, param_dtype))
    else:
        with pytest.raises(gc.DTypeError) as caught:
            gc.compile([], [new], updates={p: new})
        text = str(caught.value)
        assert f"Parameter 'p' has dtype {update_dtype}" in text and param_dtype in text, text
        assert "test_update_dtypes.py" in text  # the line that built the update


def test_the_reports_float64_update_of_a_float32_parameter_is_refused_and_a_cast_or_a_number_is_fine():
    w = gc.Parameter(np.ones(3, np.float32), "w")
    with pytest.raises(gc.DTypeError, match=r"has dtype float64 .* float32 without loss.*gc.cast"):
        gc.compile([], [], updates={w: w - gc.constant(np.full(3, 0.1))})  # a float64 array: strong
    f = gc.compile([], [], updates={w: gc.cast(w - gc.constant(np.full(3, 0.1)), "float32")})
    f()
    assert w.value.dtype == np.float32 and np.array_equal(w.value, np.full(3, np.float32(1.0 - 0.1)))
    g = gc.compile([], [], updates={w: w * 0.5 + [0.0, 1.0, 2.0]})  # a Python number and list are weak
    before = w.value.copy()
    g()
    want = before * np.float32(0.5) + np.array([0.0, 1.0, 2.0], np.float32)  # float32 all the way
    assert w.value.dtype == np.float32 and np.array_equal(w.value, want)


def test_the_optimisers_keep_float32_parameters_float32():
    w = gc.Parameter(np.array([1.0, -2.0], np.float32), "w")
    cost = (w * w).sum()
    for opt in (gc.optim.sgd(cost, [w], 0.1, momentum=0.9), gc.optim.adam(cost, [w]), gc.optim.rmsprop(cost, [w])):
        step = gc.compile(cost, [], updates=opt)
        step()
        assert w.value.dtype == np.float32


def test_an_update_of_the_wrong_run_time_shape_assigns_no_parameter():
    a, b = gc.Parameter(np.zeros(3), "a"), gc.Parameter(np.zeros(3), "b")
    new = gc.Variable("new", (None,))
    f = gc.compile([], [new], updates={a: a + 1.0, b: new})
    with pytest.raises(gc.InputError, match=r"update of Parameter 'b' .* shape \(2,\) .* \(3,\); no Parameter"):
        f(np.ones(2))
    assert np.array_equal(a.value, np.zeros(3)) and np.array_equal(b.value, np.zeros(3))
    f(np.full(3, 5.0))
    assert np.array_equal(a.value, np.ones(3)) and np.array_equal(b.value, np.full(3, 5.0))


@pytest.mark.parametrize("make", ["sgd", "adam", "adamw", "rmsprop"])
def test_a_step_counter_other_than_the_schedules_is_warned_about_at_the_users_line(make):
    w = gc.Parameter(np.ones(2), "w")
    cost = (w * w).sum()
    k1, k2 = gc.optim.step_counter("k1"), gc.optim.step_counter("k2")
    lr = gc.optim.schedules.step_decay(k1, 0.1, step_size=1, gamma=0.5)
    optimiser = getattr(gc.optim, make)
    with pytest.warns(UserWarning, match=rf"{make}: lr reads the step counter 'k1'.*step= is 'k2'") as caught:
        updates = optimiser(cost, [w], lr=lr, step=k2)
    assert caught[0].filename == __file__
    step = gc.compile([lr], [], updates=updates)
    rates = [float(step()[0]) for _ in range(3)]
    assert rates == [0.1, 0.1, 0.1] and int(k1.value) == 0 and int(k2.value) == 3  # the frozen schedule warned of
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optimiser(cost, [w], lr=lr, step=k1)  # the schedule's own counter: no warning
        optimiser(cost, [w], lr=lr)


@pytest.mark.parametrize("shuffle", [False, True])
def test_batches_are_new_arrays_never_views_of_the_callers(shuffle):
    X = np.arange(12.0).reshape(6, 2)
    kept = X.copy()
    for xb in gc.data.batches(X, 4, shuffle=shuffle, seed=0):
        assert not np.shares_memory(xb, X)
        xb *= -1  # a model normalising its batch in place
    assert np.array_equal(X, kept)


def test_pytorchs_dataloader_collates_into_new_memory_too():
    torch = pytest.importorskip("torch")
    X = np.arange(12.0).reshape(6, 2)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(X)), batch_size=4)
    for (xb,) in loader:
        assert not np.shares_memory(xb.numpy(), X)
