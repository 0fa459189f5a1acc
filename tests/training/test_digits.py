"""Training on scikit-learn's digits: the issue's accuracy bars with fixed seeds,
and a small subset that learns within seconds."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc
from graphcomp.cli.main import main
from graphcomp.examples import digits


def test_the_mlp_reaches_96_percent_in_under_a_minute():
    h = digits.train(digits.mlp(seed=0), seed=0, progress=False)
    assert h.accuracy[-1] >= 0.96 and h.seconds < 60
    assert h.loss[-1] < h.loss[0] / 5


def test_the_lecture_cnn_reaches_97_percent_in_under_a_minute():
    h = digits.train(digits.cnn(seed=0), seed=0, progress=False)
    assert h.accuracy[-1] >= 0.97 and h.seconds < 60


def test_the_mlp_with_adam_and_dropout_reaches_97_percent_in_under_a_minute():
    h = digits.train(digits.mlp(seed=0, dropout=0.2), optimizer="adam", seed=0, progress=False)
    assert h.accuracy[-1] >= 0.97 and h.seconds < 60


def test_the_cnn_with_batch_norm_and_dropout_reaches_98_percent_in_under_a_minute():
    h = digits.train(digits.cnn(seed=0, batch_norm=True, dropout=0.25), optimizer="adam", seed=0, progress=False)
    assert h.accuracy[-1] >= 0.98 and h.seconds < 60


def test_training_draws_one_mask_per_step_and_inference_draws_none():
    Xtr, ytr, Xte, yte = digits.load_digits(seed=4)
    net = digits.cnn(filters=4, seed=4, batch_norm=True, dropout=0.5)
    data = (Xtr[:200], ytr[:200], Xte[:100], yte[:100])
    digits.train(net, data, epochs=3, batch=32, optimizer="adam", seed=4, progress=False)
    state = net.noise.state
    assert int(state.value) == 3 * (200 // 32)  # one draw per step; predict drew nothing
    # the running statistics moved away from their start (mean 0, variance 1)
    (stats,) = net.stats
    assert np.all(stats.mean.value != 0) and np.all(stats.var.value != 1)
    # inference is deterministic: batch norm from the running statistics, no dropout
    x = gc.Variable("x", (None, 1, 8, 8))
    predict = gc.compile(net.logits(x), [x])
    images = net.prepare(Xte[:10])
    np.testing.assert_array_equal(predict(images), predict(images))
    assert int(state.value) == 3 * (200 // 32)


def test_an_unknown_optimizer_is_refused():
    with pytest.raises(gc.ArgumentError, match="optimizer"):
        digits.train(digits.mlp(hidden=4), optimizer="adagrad", progress=False)


def test_a_small_subset_learns_within_seconds():
    Xtr, ytr, Xte, yte = digits.load_digits(seed=3)
    subset = (Xtr[:300], ytr[:300], Xte[:200], yte[:200])
    nets = [digits.mlp(hidden=32, seed=3), digits.cnn(filters=4, seed=3), digits.mlp(hidden=32, seed=3, dropout=0.2)]
    for net, optimizer in zip(nets, ["sgd", "sgd", "adam"]):
        h = digits.train(net, subset, epochs=12, seed=3, optimizer=optimizer, progress=False)
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


def test_the_train_command_takes_the_optimizer_dropout_and_batch_norm(capsys):
    argv = ["train", "--model", "cnn", "--optimizer", "adam", "--batch-norm", "--dropout", "0.25", "--epochs", "2"]
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("cnn+bn+dropout 0.25 with adam on scikit-learn's digits")
    assert out[-1].startswith("test accuracy")


@pytest.mark.parametrize(
    "argv, option",
    [
        (["train", "--dropout", "1"], "--dropout"),
        (["train", "--dropout", "-0.1"], "--dropout"),
        (["train", "--dropout", "half"], "--dropout"),
        (["train", "--optimizer", "rmsprop"], "--optimizer"),
        (["train", "--model", "mlp", "--batch-norm"], "--batch-norm"),
    ],
)
def test_bad_train_options_are_usage_errors(argv, option, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "usage: graphcomp" in captured.err and option in captured.err


def test_run_train_refuses_bad_arguments():
    from graphcomp.cli.main import run_train

    for kwargs, what in [
        ({"optimizer": "adagrad"}, "optimizer"),
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": True}, "dropout"),
        ({"batch_norm": True}, "batch_norm"),  # the MLP has none
    ]:
        with pytest.raises(gc.ArgumentError, match=what):
            run_train("mlp", 1, 0, **kwargs)
