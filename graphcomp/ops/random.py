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

**Draws inside loops.** A draw built while a loop body is traced (``gc.scan``,
``fori_loop``, ``map``: ``tracing_loop``) reads the step number of each
enclosing loop as inputs after the state (``depth`` of them, the outermost
first), so every step draws new numbers and the run stays reproducible: the
innermost step ``t`` goes into counter word 1, which Philox's block count
(word 0, 2^64 blocks) never reaches, and the outer steps into the key,
``SeedSequence(seed, spawn_key=outer steps)`` (NumPy's way to spawn
independent streams), so

    key     = SeedSequence(seed, spawn_key=(t_1, ..., t_{depth-1})).generate_state(2, uint64)
    counter = [0, t_depth, draw, calls]

A draw outside loops (``depth`` 0) is the formula above. A backward loop that
recomputes a step reads the same step numbers, hence the same numbers, as
JAX's ``fold_in`` of the step into a key does.

The ops are the standard distributions; ``graphcomp.random.Generator`` builds
``mean + std * z`` and ``low + (high - low) * u`` from them. A draw shaped
like another value reads that value as its last input (only its shape).
"""

from __future__ import annotations

import contextlib
import contextvars
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
    "bernoulli_sample", "tracing_loop", "loop_steps",
]  # fmt: skip


@functools.lru_cache(maxsize=4096)
def _key(seed: int, outer: tuple[int, ...] = ()) -> tuple[int, int]:
    # SeedSequence spreads any integer's entropy over the key, as np.random.Philox(seed) does;
    # its spawn_key makes the independent keys of the outer loops' steps
    return tuple(int(k) for k in np.random.SeedSequence(seed, spawn_key=outer).generate_state(2, np.uint64))


def philox(seed: int, draw: int, calls, steps=()) -> np.random.Generator:
    """The NumPy Generator of draw number ``draw`` of generator ``seed`` in the run
    with state ``calls``, at the loop steps ``steps`` (outermost first; none outside
    loops): Philox with key ``SeedSequence(seed, spawn_key=steps[:-1]).generate_state(2,
    uint64)`` and counter ``[0, steps[-1] or 0, draw, calls]``.

    Example:
        >>> philox(0, 1, 5).bit_generator.state["state"]["counter"].tolist()
        [0, 0, 1, 5]
        >>> philox(0, 1, 5, (3,)).bit_generator.state["state"]["counter"].tolist()
        [0, 3, 1, 5]
    """
    calls = int(calls)
    if calls < 0:
        raise EvaluationError(f"a random generator's state must be >= 0 (the runs so far), got {calls}")
    steps = tuple(int(t) for t in steps)
    key = np.array(_key(seed, steps[:-1]), dtype=np.uint64)
    counter = np.array([0, steps[-1] if steps else 0, draw, calls], dtype=np.uint64)
    return np.random.Generator(np.random.Philox(counter=counter, key=key))


_loop_steps: contextvars.ContextVar[tuple] = contextvars.ContextVar("graphcomp_loop_steps", default=())


@contextlib.contextmanager
def tracing_loop(step: Variable):
    """While a loop body is traced: draws built meanwhile also read ``step`` (the
    body's step-number placeholder) after those of the loops around it, so each step
    of each loop draws its own numbers (module docstring). Per thread, nested as
    the loops are.

    Example:
        >>> import graphcomp as gc
        >>> t = gc.Variable("t", (), "int64")
        >>> with tracing_loop(t):
        ...     loop_steps() == (t,)
        True
        >>> loop_steps()
        ()
    """
    token = _loop_steps.set(_loop_steps.get() + (step,))
    try:
        yield
    finally:
        _loop_steps.reset(token)


def loop_steps() -> tuple:
    """The step placeholders of the loops whose bodies are being traced, outermost first."""
    return _loop_steps.get()


@dataclasses.dataclass(frozen=True)
class Draw(Op):
    """Base of the draws: input 0 is the state (a 0-d integer: the generator's runs
    so far); then, for a draw inside ``depth`` loops, their step numbers (0-d
    integers, the outermost first); the last input, when ``shape`` is None, the value
    whose run-time shape the draw takes. No gradient flows into a draw."""

    seed: int
    draw: int
    shape: Shape | None
    dtype: np.dtype
    depth: int = 0
    differentiable, foldable, stateful = False, False, True

    def _check_state(self, state: Variable, steps=()) -> None:
        if state.shape != () or state.dtype.kind not in "iu":
            raise DTypeError(
                f"{self.name}: input 0 must be the generator's state, a 0-d integer, got {state.label()} "
                f"of shape {fmt_shape(state.shape)} and dtype {state.dtype}"
            )
        for k, t in enumerate(steps, start=1):
            if t.shape != () or t.dtype.kind not in "iu":
                raise DTypeError(
                    f"{self.name}: input {k} must be a loop's step number, a 0-d integer, got {t.label()} "
                    f"of shape {fmt_shape(t.shape)} and dtype {t.dtype}"
                )

    def _out_shape(self, inputs) -> Shape:
        return self.shape if self.shape is not None else inputs[-1].shape

    def _split(self, inputs) -> tuple:
        """(state, loop steps, the rest) of the inputs or their values."""
        return inputs[0], inputs[1 : 1 + self.depth], inputs[1 + self.depth :]

    def infer(self, *inputs):
        state, steps, rest = self._split(inputs)
        self._check_state(state, steps)
        return self._infer(rest), self.dtype

    def _infer(self, rest) -> Shape:
        """The draw's shape from the inputs after the state and the steps."""
        return self._out_shape((None, *rest))

    def bprop(self, inputs, output, G):
        return [None] * len(inputs)

    def state_updates(self, inputs):
        state = inputs[0]
        # a fed or constant state (explicit keys, JAX's way) is the caller's to advance
        return [(state, state + 1)] if isinstance(state, Parameter) else []

    def label(self) -> str:
        shape = "like" if self.shape is None else fmt_shape(self.shape)
        loops = f",depth={self.depth}" if self.depth else ""
        return f"{self.name}[seed={self.seed},draw={self.draw},shape={shape},dtype={self.dtype}{loops}]"

    def forward(self, *arrays):
        state, steps, rest = self._split(arrays)
        return type(self).sample(self.seed, self.draw, self.shape, self.dtype, state, *rest, steps=steps)

    def expression(self, v, args):
        # the integers written out, so that loop rolling sees a chain of draws as one
        # line whose draw number moves on (``graphcomp/runtime/roll.py``)
        shape = "None" if self.shape is None else repr(self.shape)
        (helper,) = type(self).numpy_helpers
        state, steps, rest = self._split(args)
        text = ", ".join([state, *rest])
        if self.depth:
            text += f", steps=({', '.join(steps)},)"
        return f"{helper}({self.seed!r}, {self.draw!r}, {shape}, {str(self.dtype)!r}, {text})"

    #: the sampler (below): ``sample(seed, draw, shape, dtype, *arrays)``
    sample: ClassVar[Callable]


def _native(dtype: np.dtype):
    """The dtype NumPy's Generator draws in directly (float32, float64); others are cast."""
    return dtype if dtype in (np.float32, np.float64) else np.float32 if dtype.itemsize < 4 else np.float64


# The samplers: a draw's numbers from its parameters and input arrays (``shape`` None:
# the last array's shape). Both forward and the generated code's inline form call them.


def normal_sample(seed: int, draw: int, shape, dtype, state, *rest, steps=()) -> np.ndarray:
    """Standard normal numbers of draw ``draw`` of generator ``seed`` at state ``state``
    (and loop steps ``steps``).

    Example:
        >>> normal_sample(0, 0, (2,), "float32", 0).dtype
        dtype('float32')
    """
    dtype = np.dtype(dtype)
    shape = np.shape(rest[-1]) if shape is None else shape
    values = philox(seed, draw, state, steps).standard_normal(shape, dtype=_native(dtype))
    return values if values.dtype == dtype else values.astype(dtype)


def uniform_sample(seed: int, draw: int, shape, dtype, state, *rest, steps=()) -> np.ndarray:
    """Uniform numbers on [0, 1) of draw ``draw`` of generator ``seed`` at state ``state``
    (and loop steps ``steps``).

    Example:
        >>> uniform_sample(0, 0, None, "float64", 0, np.zeros((2, 3))).shape
        (2, 3)
    """
    dtype = np.dtype(dtype)
    shape = np.shape(rest[-1]) if shape is None else shape
    values = philox(seed, draw, state, steps).random(shape, dtype=_native(dtype))
    return values if values.dtype == dtype else values.astype(dtype)


def bernoulli_sample(seed: int, draw: int, shape, dtype, state, p, *rest, steps=()) -> np.ndarray:
    """``u < p`` in ``dtype``, ``u`` uniform on [0, 1) (float64) of draw ``draw`` of
    generator ``seed`` at state ``state`` (and loop steps ``steps``); raises for a
    ``p`` outside [0, 1].

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
    return (philox(seed, draw, state, steps).random(shape) < p).astype(dtype)


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

    def _infer(self, rest):
        p = rest[0]
        if p.dtype.kind not in "fiub":
            raise DTypeError(f"{self.name}: p must be a real number, got {p.label()} of dtype {p.dtype}")
        shape = self._out_shape((None, *rest))
        try:
            joint = broadcast_shapes(shape, p.shape, op=self.name)
        except ShapeError:
            joint = None
        if joint is None or len(joint) != len(shape) or any(a is not None and a != b for a, b in zip(shape, joint)):
            raise ShapeError(
                f"{self.name}: p of shape {fmt_shape(p.shape)} must broadcast to the draw's shape "
                f"{fmt_shape(shape)} without changing it"
            )
        return shape
