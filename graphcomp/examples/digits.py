"""Training on scikit-learn's digits (8x8 images, 10 classes; the data ships
inside scikit-learn, nothing is downloaded): the lectures' one-hidden-layer
MLP and the CNN of lecture 002 (conv -> max-pool -> relu -> linear ->
softmax), trained by SGD with momentum through ``gc.compile(..., updates=...)``.

Needs the ``examples`` extra: ``pip install 'graphcomp[examples]'``
(scikit-learn and tqdm).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np

import graphcomp as gc

__all__ = ["load_digits", "mlp", "cnn", "train", "Model", "History"]


def _need(package: str):
    try:
        return __import__(package)
    except ImportError:
        raise ImportError(f"the digits example needs {package}: pip install 'graphcomp[examples]'") from None


def load_digits(seed: int = 0, test_fraction: float = 0.25):
    """Images scaled to [0, 1] and labels, split into train and test with a fixed seed
    (stratified: each class keeps its share in both parts).

    Example:
        >>> Xtr, ytr, Xte, yte = load_digits()
        >>> Xtr.shape, Xte.shape, sorted(set(ytr.tolist())) == list(range(10))
        ((1347, 64), (450, 64), True)
    """
    _need("sklearn")
    from sklearn import datasets

    d = datasets.load_digits()
    X, y = d.data / 16.0, d.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(y == c))
        test[idx[: int(round(len(idx) * test_fraction))]] = True
    return X[~test], y[~test], X[test], y[test]


@dataclasses.dataclass
class Model:
    """Parameters, and how to build logits from an input batch Variable."""

    name: str
    params: list
    input_shape: tuple
    logits: Callable

    def prepare(self, X: np.ndarray) -> np.ndarray:
        """Reshape flat 8x8 rows to this model's input layout."""
        return X.reshape((len(X), *self.input_shape[1:]))


def _init(rng, shape, fan_in):
    return rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)  # He initialisation, for relu


def mlp(hidden: int = 128, seed: int = 0) -> Model:
    """The lectures' one-hidden-layer MLP: relu(x W1 + b1) W2 + b2.

    Example:
        >>> mlp().params[0].shape
        (64, 128)
    """
    rng = np.random.default_rng(seed)
    W1 = gc.Parameter(_init(rng, (64, hidden), 64), "W1")
    b1 = gc.Parameter(np.zeros(hidden), "b1")
    W2 = gc.Parameter(_init(rng, (hidden, 10), hidden), "W2")
    b2 = gc.Parameter(np.zeros(10), "b2")
    return Model("mlp", [W1, b1, W2, b2], (None, 64), lambda x: gc.relu(x @ W1 + b1) @ W2 + b2)


def cnn(filters: int = 16, seed: int = 0) -> Model:
    """Lecture 002's CNN: conv 3x3 (padding 1) -> max-pool 2 -> relu -> linear -> softmax.

    Example:
        >>> cnn().params[0].shape
        (16, 1, 3, 3)
    """
    rng = np.random.default_rng(seed)
    alpha = gc.Parameter(_init(rng, (filters, 1, 3, 3), 9), "alpha")
    bias = gc.Parameter(np.zeros((1, filters, 1, 1)), "conv_bias")
    omega = gc.Parameter(_init(rng, (filters * 16, 10), filters * 16), "omega")
    b = gc.Parameter(np.zeros(10), "b")

    def logits(x):
        z1 = gc.conv2d(x, alpha, padding=1) + bias
        z2 = gc.max_pool2d(z1, 2)
        z3 = gc.relu(z2)
        return z3.reshape(-1, filters * 16) @ omega + b

    return Model("cnn", [alpha, bias, omega, b], (None, 1, 8, 8), logits)


@dataclasses.dataclass
class History:
    """Per-epoch training loss and test accuracy, and the seconds it all took."""

    loss: list
    accuracy: list
    seconds: float


def train(
    model: Model,
    data=None,
    *,
    epochs: int = 40,
    batch: int = 32,
    lr: float = 0.05,
    momentum: float = 0.9,
    l2: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
) -> History:
    """Train with mean cross-entropy + (l2/2) * sum of squared weights, by SGD with
    momentum (the rate divided by 10 for the last quarter of the epochs);
    returns the loss and test accuracy after each epoch.

    Example:
        >>> h = train(mlp(hidden=16), epochs=2, progress=False)
        >>> len(h.loss), h.accuracy[-1] > 0.5
        (2, True)
    """
    tqdm = _need("tqdm").tqdm
    Xtr, ytr, Xte, yte = data if data is not None else load_digits(seed)
    Xtr, Xte = model.prepare(Xtr), model.prepare(Xte)
    x = gc.Variable("x", model.input_shape)
    y = gc.Variable("y", (None,), "int64")
    logits = model.logits(x)
    weights = [p for p in model.params if p.ndim > 1 and "bias" not in (p.name or "")]
    cost = gc.nn.cross_entropy(logits, y) + l2 / 2 * sum((W * W).sum() for W in weights)
    rate = gc.Parameter(lr, "lr")  # a Parameter, so the schedule can change it between calls
    step = gc.compile(cost, [x, y], updates=gc.optim.sgd(cost, model.params, lr=rate, momentum=momentum))
    predict = gc.compile(logits, [x])
    rng = np.random.default_rng(seed)
    history = History([], [], 0.0)
    start = time.perf_counter()
    bar = tqdm(range(epochs), desc=f"{model.name}", disable=not progress, leave=False)
    for epoch in bar:
        if epoch == (3 * epochs) // 4:
            rate.set_value(lr / 10)  # settle the last quarter
        order = rng.permutation(len(Xtr))
        losses = [float(step(Xtr[i], ytr[i])) for i in np.array_split(order, max(1, len(order) // batch))]
        history.loss.append(float(np.mean(losses)))
        history.accuracy.append(float(np.mean(predict(Xte).argmax(axis=1) == yte)))
        bar.set_postfix(loss=f"{history.loss[-1]:.3f}", test_accuracy=f"{history.accuracy[-1]:.3f}")
    history.seconds = time.perf_counter() - start
    return history
