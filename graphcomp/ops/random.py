"""Random draws: ops whose value changes from run to run (``stateful``).

Each draw is counter-based, as JAX's and TensorFlow's stateless random ops
(Salmon et al. 2011, "Parallel random numbers: as easy as 1, 2, 3"): its
numbers are a pure function of four integers, read by NumPy's Philox
bit generator,

    key     = SeedSequence(seed).generate_state(2, uint64)   the generator's seed
    counter = [0, 0, draw, calls]                             (Philox's 4 x 64 bits)

where ``draw`` numbers the draws built from one generator (a parameter of
the op: two draws in one run are different streams) and ``calls`` is the
value of the generator's state, a 0-d int64 Parameter that is input 0 of
every draw. Philox counts its blocks in the low words, so the streams of two
(draw, calls) pairs never overlap. A draw is therefore an ordinary function
of its inputs: equal ops on equal inputs are the same numbers (merging them
is right), and what makes each run differ is the state, which every run
advances (``state_updates``; ``gc.compile`` and ``gc.evaluate`` apply it,
see ``graphcomp/runtime/state.py``).

The ops are the standard distributions; ``graphcomp.random.Generator`` builds
``mean + std * z`` and ``low + (high - low) * u`` from them. A draw shaped
like another value reads that value as its last input (only its shape).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import ClassVar

import numpy as np

from graphcomp.core.node import Parameter, Variable
from graphcomp.core.types import Shape, broadcast_shapes, fmt_shape
from graphcomp.errors import DTypeError, EvaluationError, ShapeError
from graphcomp.ops.base import Op

__all__ = [
    "RandomNormal", "RandomUniform", "RandomBernoulli", "Draw", "philox", "normal_sample", "uniform_sample",
    "bernoulli_sample",
]  # fmt: skip


@functools.lru_cache(maxsize=1024)
def _key(seed: int) -> tuple[int, int]:
    # SeedSequence spreads any integer's entropy over the key, as np.random.Philox(seed) does
    return tuple(int(k) for k in np.random.SeedSequence(seed).generate_state(2, np.uint64))


def philox(seed: int, draw: int, calls) -> np.random.Generator:
    """The NumPy Generator of draw number ``draw`` of generator ``seed`` in the run
    with state ``calls``: Philox with key ``SeedSequence(seed).generate_state(2,
    uint64)`` and counter ``[0, 0, draw, calls]``.

    Example:
        >>> philox(0, 1, 5).bit_generator.state["state"]["counter"].tolist()
        [0, 0, 1, 5]
    """
    calls = int(calls)
    if calls < 0:
        raise EvaluationError(f"a random generator's state must be >= 0 (the runs so far), got {calls}")
    key = np.array(_key(seed), dtype=np.uint64)
    counter = np.array([0, 0, draw, calls], dtype=np.uint64)
    return np.random.Generator(np.random.Philox(counter=counter, key=key))


@dataclasses.dataclass(frozen=True)
class Draw(Op):
    """Base of the draws: input 0 is the state (a 0-d integer: the generator's runs
    so far), the last input, when ``shape`` is None, the value whose run-time shape
    the draw takes. No gradient flows into a draw."""

    seed: int
    draw: int
    shape: Shape | None
    dtype: np.dtype
    differentiable, foldable, stateful = False, False, True

    def _check_state(self, state: Variable) -> None:
        if state.shape != () or state.dtype.kind not in "iu":
            raise DTypeError(
                f"{self.name}: input 0 must be the generator's state, a 0-d integer, got {state.label()} "
                f"of shape {fmt_shape(state.shape)} and dtype {state.dtype}"
            )

    def _out_shape(self, inputs) -> Shape:
        return self.shape if self.shape is not None else inputs[-1].shape

    def infer(self, state, *rest):
        self._check_state(state)
        return self._out_shape((state, *rest)), self.dtype

    def bprop(self, inputs, output, G):
        return [None] * len(inputs)

    def state_updates(self, inputs):
        state = inputs[0]
        # a fed or constant state (explicit keys, JAX's way) is the caller's to advance
        return [(state, state + 1)] if isinstance(state, Parameter) else []

    def label(self) -> str:
        shape = "like" if self.shape is None else fmt_shape(self.shape)
        return f"{self.name}[seed={self.seed},draw={self.draw},shape={shape},dtype={self.dtype}]"

    def forward(self, *arrays):
        return type(self).sample(self.seed, self.draw, self.shape, self.dtype, *arrays)

    def expression(self, v, args):
        # the integers written out, so that loop rolling sees a chain of draws as one
        # line whose draw number moves on (``graphcomp/runtime/roll.py``)
        shape = "None" if self.shape is None else repr(self.shape)
        (helper,) = type(self).numpy_helpers
        return f"{helper}({self.seed!r}, {self.draw!r}, {shape}, {str(self.dtype)!r}, {', '.join(args)})"

    #: the sampler (below): ``sample(seed, draw, shape, dtype, *arrays)``
    sample: ClassVar[Callable]


def _native(dtype: np.dtype):
    """The dtype NumPy's Generator draws in directly (float32, float64); others are cast."""
    return dtype if dtype in (np.float32, np.float64) else np.float32 if dtype.itemsize < 4 else np.float64


# The samplers: a draw's numbers from its parameters and input arrays (``shape`` None:
# the last array's shape). Both forward and the generated code's inline form call them.


def normal_sample(seed: int, draw: int, shape, dtype, state, *rest) -> np.ndarray:
    """Standard normal numbers of draw ``draw`` of generator ``seed`` at state ``state``.

    Example:
        >>> normal_sample(0, 0, (2,), "float32", 0).dtype
        dtype('float32')
    """
    dtype = np.dtype(dtype)
    shape = np.shape(rest[-1]) if shape is None else shape
    values = philox(seed, draw, state).standard_normal(shape, dtype=_native(dtype))
    return values if values.dtype == dtype else values.astype(dtype)


def uniform_sample(seed: int, draw: int, shape, dtype, state, *rest) -> np.ndarray:
    """Uniform numbers on [0, 1) of draw ``draw`` of generator ``seed`` at state ``state``.

    Example:
        >>> uniform_sample(0, 0, None, "float64", 0, np.zeros((2, 3))).shape
        (2, 3)
    """
    dtype = np.dtype(dtype)
    shape = np.shape(rest[-1]) if shape is None else shape
    values = philox(seed, draw, state).random(shape, dtype=_native(dtype))
    return values if values.dtype == dtype else values.astype(dtype)


def bernoulli_sample(seed: int, draw: int, shape, dtype, state, p, *rest) -> np.ndarray:
    """``u < p`` in ``dtype``, ``u`` uniform on [0, 1) (float64) of draw ``draw`` of
    generator ``seed`` at state ``state``; raises for a ``p`` outside [0, 1].

    Example:
        >>> bernoulli_sample(0, 0, (3,), "int64", 0, 1.0).tolist()
        [1, 1, 1]
    """
    shape = np.shape(rest[-1]) if shape is None else tuple(shape)
    p = np.asarray(p)
    if np.broadcast_shapes(shape, p.shape) != shape:
        raise ShapeError(f"random_bernoulli: p of shape {p.shape} does not broadcast to the draw's shape {shape}")
    bad = ~((p >= 0) & (p <= 1))
    if bad.any():
        raise EvaluationError(
            f"random_bernoulli: p must be in [0, 1], got {p[bad].flat[0]!r} ({int(bad.sum())} value(s) outside)"
        )
    return (philox(seed, draw, state).random(shape) < p).astype(dtype)


@dataclasses.dataclass(frozen=True)
class RandomNormal(Draw):
    """Standard normal numbers N(0, 1), ``Generator.standard_normal`` (NumPy's
    ziggurat) of the draw's Philox stream; float16 is drawn in float32 and rounded.

    Example:
        >>> import numpy as np, graphcomp as gc
        >>> state = gc.Parameter(np.int64(0), "calls")
        >>> z = RandomNormal(7, 0, (3,), np.dtype("float64"))(state)
        >>> bool(np.array_equal(gc.evaluate(z, {}), philox(7, 0, 0).standard_normal(3)))
        True
    """

    name = "random_normal"
    sample = staticmethod(normal_sample)
    numpy_helpers = {"_random_normal": normal_sample}


@dataclasses.dataclass(frozen=True)
class RandomUniform(Draw):
    """Uniform numbers on [0, 1), ``Generator.random`` of the draw's Philox stream.

    Example:
        >>> import numpy as np, graphcomp as gc
        >>> state = gc.Parameter(np.int64(4), "calls")
        >>> u = RandomUniform(7, 2, None, np.dtype("float32"))(state, gc.Variable("x", (None, 2)))
        >>> u.shape, gc.evaluate(u, {"x": np.zeros((5, 2))}).shape
        ((None, 2), (5, 2))
    """

    name = "random_uniform"
    sample = staticmethod(uniform_sample)
    numpy_helpers = {"_random_uniform": uniform_sample}


@dataclasses.dataclass(frozen=True)
class RandomBernoulli(Draw):
    """1 with probability ``p``, else 0: ``u < p`` for ``u`` uniform on [0, 1) (float64)
    from the draw's Philox stream, in ``dtype``. Input 1 is ``p``, whose shape must
    broadcast to the draw's without changing it; a ``p`` outside [0, 1] raises at
    run time (as ``torch.bernoulli``). No gradient flows into ``p``: a sample of a
    discrete law has no derivative in its parameter.

    Example:
        >>> import numpy as np, graphcomp as gc
        >>> state = gc.Parameter(np.int64(0), "calls")
        >>> b = RandomBernoulli(0, 0, (4,), np.dtype("float64"))(state, gc.constant(0.5))
        >>> bool(np.array_equal(gc.evaluate(b, {}), philox(0, 0, 0).random(4) < 0.5))
        True
    """

    name = "random_bernoulli"
    sample = staticmethod(bernoulli_sample)
    numpy_helpers = {"_random_bernoulli": bernoulli_sample}
    flops_per_element = 2

    def infer(self, state, p, *rest):
        self._check_state(state)
        if p.dtype.kind not in "fiub":
            raise DTypeError(f"{self.name}: p must be a real number, got {p.label()} of dtype {p.dtype}")
        shape = self._out_shape((state, p, *rest))
        try:
            joint = broadcast_shapes(shape, p.shape, op=self.name)
        except ShapeError:
            joint = None
        if joint is None or len(joint) != len(shape) or any(a is not None and a != b for a, b in zip(shape, joint)):
            raise ShapeError(
                f"{self.name}: p of shape {fmt_shape(p.shape)} must broadcast to the draw's shape "
                f"{fmt_shape(shape)} without changing it"
            )
        return shape, self.dtype
