"""gc.data.batches: every example exactly once per epoch, aligned arrays, seeds, drop_last, progress."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import graphcomp as gc


def _data(n=23):
    X = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    return X, np.arange(n) * 10  # y[i] = 10 i identifies X's row i


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("n,batch_size", [(23, 5), (20, 5), (3, 7), (1, 1)])
def test_each_epoch_covers_every_example_exactly_once_with_rows_aligned(shuffle, n, batch_size):
    X, y = _data(n)
    loader = gc.data.batches((X, y), batch_size, shuffle=shuffle, seed=4)
    assert len(loader) == -(-n // batch_size)
    for _ in range(3):
        seen = []
        sizes = []
        for xb, yb in loader:
            assert xb.dtype == X.dtype and yb.dtype == y.dtype and xb.shape[1:] == (3,)
            np.testing.assert_array_equal(xb, X[yb // 10])  # the same examples from both arrays
            seen += (yb // 10).tolist()
            sizes.append(len(yb))
        assert sorted(seen) == list(range(n))
        assert sizes == [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
        if not shuffle:
            assert seen == list(range(n))


def test_epochs_are_shuffled_differently_and_a_seed_reproduces_the_sequence():
    X, y = _data(50)

    def orders(seed, epochs=3):
        loader = gc.data.batches((X, y), 8, seed=seed)
        return [np.concatenate([yb for _, yb in loader]).tolist() for _ in range(epochs)]

    first = orders(7)
    assert first == orders(7)  # reproducible
    assert first != orders(8)
    assert first[0] != first[1] != first[2]  # each epoch its own order
    assert first[0] != sorted(first[0])
    rng_given = orders(np.random.default_rng(7))
    assert rng_given == first  # a Generator seeded alike draws alike


def test_drop_last_drops_only_the_partial_batch_and_different_examples_each_epoch():
    X, y = _data(23)
    loader = gc.data.batches((X, y), 5, seed=0, drop_last=True)
    assert len(loader) == 4
    dropped = []
    for _ in range(6):
        seen = [int(i) for _, yb in loader for i in yb // 10]
        assert len(seen) == 20 == len(set(seen))
        dropped.append(frozenset(range(23)) - set(seen))
    assert all(len(d) == 3 for d in dropped) and len(set(dropped)) > 1
    ordered = gc.data.batches((X, y), 5, shuffle=False, drop_last=True)
    assert [int(i) for _, yb in ordered for i in yb // 10] == list(range(20))


def test_one_array_gives_batches_not_tuples():
    X, _ = _data(7)
    got = list(gc.data.batches(X, 3, shuffle=False))
    assert all(isinstance(b, np.ndarray) for b in got)
    np.testing.assert_array_equal(np.concatenate(got), X)


def test_set_loss_keeps_the_running_mean_of_the_epoch_and_the_bar_shows_it(capsys):
    pytest.importorskip("tqdm")
    X, y = _data(10)
    loader = gc.data.batches((X, y), 4, progress=True)
    assert loader.running_loss is None
    for k, _ in enumerate(loader):
        loader.set_loss(np.float64(k + 1.0))
    assert loader.running_loss == pytest.approx(2.0)  # mean of 1, 2, 3
    err = capsys.readouterr().err
    assert "epoch 1" in err and "3/3" in err and "loss=3" in err and "mean=2" in err
    for _ in loader:
        loader.set_loss(10.0)
    assert loader.running_loss == 10.0 and loader.epoch == 2  # a new epoch starts a new mean
    with pytest.raises(gc.ArgumentError, match="the loss must be a number"):
        loader.set_loss("low")


def test_progress_without_tqdm_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ModuleNotFoundError, match="pip install tqdm"):
        gc.data.batches(np.zeros(3), 1, progress=True)


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda: gc.data.batches((np.zeros(5), np.zeros(4)), 2), gc.ShapeError, r"different lengths.*\(5,\), \(4,\)"),
        (lambda: gc.data.batches((np.zeros(5),), 0), gc.ArgumentError, r"batch_size must be a positive int, got 0"),
        (lambda: gc.data.batches((np.zeros(5),), 2.0), gc.ArgumentError, r"batch_size must be a positive int"),
        (lambda: gc.data.batches((np.zeros(5),), True), gc.ArgumentError, r"batch_size must be a positive int"),
        (lambda: gc.data.batches((np.zeros(3),), 5, drop_last=True), gc.ArgumentError, r"drops every example"),
        (lambda: gc.data.batches((np.zeros(0),), 5), gc.ShapeError, r"no examples"),
        (lambda: gc.data.batches((np.float64(1.0),), 5), gc.ShapeError, r"array 0 is 0-d"),
        (lambda: gc.data.batches([], 5), gc.ArgumentError, r"no arrays given"),
        (lambda: gc.data.batches({"x": np.zeros(3)}, 5), gc.ArgumentError, r"tuple/list of arrays, got dict"),
        (lambda: gc.data.batches((np.zeros(3),), 1, seed=-1), gc.ArgumentError, r"seed must be a non-negative int"),
        (lambda: gc.data.batches((np.zeros(3),), 1, shuffle="yes"), gc.ArgumentError, r"shuffle must be True or"),
    ],
)
def test_bad_arguments_are_refused_clearly(call, error, match):
    with pytest.raises(error, match=match):
        call()
