"""Training on scikit-learn's digits: the issue's accuracy bars with fixed seeds,
and a small subset that learns within seconds."""

from __future__ import annotations

import numpy as np

from graphcomp.cli.main import main
from graphcomp.examples import digits


def test_the_mlp_reaches_96_percent_in_under_a_minute():
    h = digits.train(digits.mlp(seed=0), seed=0, progress=False)
    assert h.accuracy[-1] >= 0.96 and h.seconds < 60
    assert h.loss[-1] < h.loss[0] / 5


def test_the_lecture_cnn_reaches_97_percent_in_under_a_minute():
    h = digits.train(digits.cnn(seed=0), seed=0, progress=False)
    assert h.accuracy[-1] >= 0.97 and h.seconds < 60


def test_a_small_subset_learns_within_seconds():
    Xtr, ytr, Xte, yte = digits.load_digits(seed=3)
    subset = (Xtr[:300], ytr[:300], Xte[:200], yte[:200])
    for net in (digits.mlp(hidden=32, seed=3), digits.cnn(filters=4, seed=3)):
        h = digits.train(net, subset, epochs=12, seed=3, progress=False)
        assert h.accuracy[-1] >= 0.85, (net.name, h.accuracy)
        assert np.argmin(h.loss) > len(h.loss) // 2  # the loss went down, not up


def test_the_split_is_stratified_and_fixed_by_the_seed():
    a, b = digits.load_digits(seed=5), digits.load_digits(seed=5)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert np.allclose(np.bincount(a[3]) / len(a[3]), np.bincount(a[1]) / len(a[1]), atol=0.01)


def test_the_train_command(capsys):
    assert main(["train", "--model", "mlp", "--epochs", "3"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith("test accuracy") and "epoch   3" in out
