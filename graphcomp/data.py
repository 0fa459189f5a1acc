"""Minibatches for a training loop (``gc.data``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from graphcomp.core.types import as_bool
from graphcomp.errors import ArgumentError, ShapeError

__all__ = ["batches", "Batches"]


class Batches:
    """Minibatches over the leading axis of equally long arrays; each ``for``
    loop over it is one epoch. Made by ``gc.data.batches`` (see there).

    ``len(b)`` is the number of batches per epoch, ``b.epoch`` the number of
    epochs started. ``b.set_loss(value)`` reports the loss of the batch just
    used: ``b.running_loss`` is the mean of the values reported in the current
    (or just finished) epoch, and the progress bar shows it.

    Example:
        >>> import numpy as np, graphcomp as gc
        >>> loader = gc.data.batches(np.arange(6.0), batch_size=4, seed=0)
        >>> for xb in loader:
        ...     loader.set_loss(xb.sum())
        >>> len(loader), loader.epoch, loader.running_loss  # two batches summing to 15 in all
        (2, 1, 7.5)
    """

    def __init__(self, arrays, batch_size, shuffle, seed, drop_last, progress):
        self._single = isinstance(arrays, np.ndarray)
        self.arrays = _check_arrays(arrays)
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ArgumentError(f"batches: batch_size must be a positive int, got {batch_size!r}")
        shuffle = as_bool(shuffle, "batches: shuffle")
        drop_last = as_bool(drop_last, "batches: drop_last")
        progress = as_bool(progress, "batches: progress")
        self.n = len(self.arrays[0])
        self.batch_size = int(batch_size)
        if drop_last and self.n < self.batch_size:
            raise ArgumentError(
                f"batches: drop_last=True with {self.n} example(s) and batch_size={self.batch_size} "
                "drops every example; lower batch_size or keep the last batch"
            )
        self.shuffle, self.drop_last, self.progress = bool(shuffle), bool(drop_last), bool(progress)
        self._rng = _generator(seed)
        self._tqdm = _tqdm() if self.progress else None
        self.epoch = 0
        self._bar = None
        self._loss_sum, self._loss_count = 0.0, 0

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def __iter__(self):
        # the order is drawn when the epoch starts, so each epoch is reproducible from the seed
        order = self._rng.permutation(self.n) if self.shuffle else None
        self.epoch += 1
        self._loss_sum, self._loss_count = 0.0, 0
        return self._epoch(order)

    def _epoch(self, order):
        count = len(self)
        bar = self._tqdm(total=count, desc=f"epoch {self.epoch}", unit="batch") if self._tqdm else None
        self._bar = bar
        try:
            for k in range(count):
                start = k * self.batch_size
                if order is None:
                    # a copy, as a shuffled batch (fancy indexing) is one: a batch changed in
                    # place never changes the caller's arrays (PyTorch's DataLoader collates anew)
                    batch = tuple(a[start : start + self.batch_size].copy() for a in self.arrays)
                else:
                    batch = tuple(a[order[start : start + self.batch_size]] for a in self.arrays)
                yield batch[0] if self._single else batch
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()

    def set_loss(self, value) -> None:
        """Report the loss of the batch just used (a number or a 0-d array)."""
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ArgumentError(f"batches.set_loss: the loss must be a number, got {value!r}") from None
        self._loss_sum += value
        self._loss_count += 1
        if self._bar is not None:
            self._bar.set_postfix(loss=f"{value:.4g}", mean=f"{self.running_loss:.4g}", refresh=False)

    @property
    def running_loss(self) -> float | None:
        """The mean of the losses reported in this epoch so far; None before the first."""
        return self._loss_sum / self._loss_count if self._loss_count else None

    def __repr__(self) -> str:
        return (
            f"Batches({self.n} examples, batch_size={self.batch_size}, {len(self)} batches per epoch, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last})"
        )


def _check_arrays(arrays) -> list[np.ndarray]:
    if isinstance(arrays, np.ndarray):
        arrays = [arrays]
    elif isinstance(arrays, (str, bytes, dict)) or not isinstance(arrays, Sequence):
        raise ArgumentError(f"batches: arrays must be an array or a tuple/list of arrays, got {type(arrays).__name__}")
    if not arrays:
        raise ArgumentError("batches: no arrays given")
    out = []
    for i, a in enumerate(arrays):
        a = np.asarray(a)
        if a.ndim == 0:
            raise ShapeError(f"batches: array {i} is 0-d; each array needs a leading axis of examples")
        out.append(a)
    lengths = [len(a) for a in out]
    if len(set(lengths)) > 1:
        shapes = ", ".join(str(a.shape) for a in out)
        raise ShapeError(f"batches: the arrays have different lengths along axis 0 ({shapes}); they must be equal")
    if lengths[0] == 0:
        raise ShapeError("batches: the arrays hold no examples (length 0 along axis 0)")
    return out


def _generator(seed) -> np.random.Generator:
    """NumPy's Generator for a seed (an int or None) or the Generator given."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ArgumentError(f"batches: seed must be a non-negative int, None or a numpy Generator, got {seed!r}")
    return np.random.default_rng(seed)


def _tqdm():
    try:
        from tqdm.auto import tqdm
    except ImportError:
        raise ModuleNotFoundError(
            "batches(progress=True) draws its bar with tqdm, which is not installed: "
            "pip install tqdm (or 'graphcomp[examples]')",
            name="tqdm",
        ) from None
    return tqdm


def batches(
    arrays, batch_size: int, shuffle: bool = True, seed=0, drop_last: bool = False, progress: bool = False
) -> Batches:
    """Minibatches of ``batch_size`` examples over the leading axis of equally
    long ``arrays`` (a tuple or list of arrays, e.g. ``(X, y)``; or one array).

    Iterating gives tuples of batches, one per array, in the arrays' order (the
    batch itself when one array was given); each ``for`` loop over the returned
    ``Batches`` is one epoch and covers every example exactly once, in a new
    order drawn from ``seed`` (an int, None for a fresh seed, or a NumPy
    Generator; the same seed gives the same sequence of epochs) when
    ``shuffle``, else in order. The last batch holds the ``n % batch_size``
    remaining examples, or is dropped with ``drop_last=True`` (as PyTorch's
    DataLoader; with batch norm in the model, drop it: a last batch of one
    example has no batch variance, and ``gc.nn.batch_norm`` refuses it). Each
    batch is a new array, shuffled or not, as PyTorch's DataLoader collates
    into new tensors: changing a batch in place never changes ``arrays``.
    ``progress=True`` shows a tqdm bar per epoch (tqdm is in the ``examples``
    extra) with the losses reported by ``.set_loss(value)``.

    Raises ShapeError for arrays of different lengths or no examples,
    ArgumentError for ``batch_size < 1`` or a ``drop_last`` that would drop
    every example, ModuleNotFoundError for ``progress=True`` without tqdm.

    Example:
        >>> import numpy as np, graphcomp as gc
        >>> X, y = np.arange(10.0).reshape(5, 2), np.arange(5)
        >>> loader = gc.data.batches((X, y), batch_size=2, shuffle=False)
        >>> [(xb.shape, yb.tolist()) for xb, yb in loader]
        [((2, 2), [0, 1]), ((2, 2), [2, 3]), ((1, 2), [4])]
        >>> sorted(int(i) for yb in gc.data.batches(y, 2, seed=1) for i in yb)  # every example, once
        [0, 1, 2, 3, 4]
    """
    return Batches(arrays, batch_size, shuffle, seed, drop_last, progress)
