"""State that every run advances: the Parameters that stateful ops (random draws)
read, and the locks that keep two concurrent runs from reading one state.

A stateful op says what a run must do to its state (``Op.state_updates``:
``{generator state: state + 1}`` for a draw). ``gc.compile`` adds those
updates to the function's own, so each call assigns them after it has read
everything, as it assigns a training step's; ``gc.evaluate`` assigns them
after evaluating. A run holds the lock of each state it advances from before
it reads the state until it has written it back: two threads calling
functions that draw from one generator take turns, each seeing its own state,
so no two runs get the same numbers. Inside ``frozen()``, runs leave the
states as they found them (every run sees the same draws: finite differences,
``check_grad``).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import weakref
from collections.abc import Iterable, Iterator

from graphcomp.core.node import Variable

__all__ = ["state_updates", "held", "frozen", "is_frozen"]

_locks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # state Parameter -> its lock
_making = threading.Lock()
_frozen = contextvars.ContextVar("graphcomp_frozen_state", default=False)


def state_updates(nodes: Iterable[Variable]) -> list[tuple[Variable, Variable]]:
    """The ``(Parameter, new value)`` pairs the stateful ops among ``nodes`` ask each
    run to apply, one per Parameter (every draw of a generator asks the same).

    Example:
        >>> import graphcomp as gc
        >>> rng = gc.random.Generator(0)
        >>> y = rng.normal((2,)) + rng.normal((2,))
        >>> [(p is rng.state, new.owner.op.name) for p, new in state_updates(gc.Graph(y).variables)]
        [(True, 'add')]
    """
    found: dict[Variable, Variable] = {}
    for v in nodes:
        owner = v.owner
        if owner is not None and owner.op.stateful:
            for param, new in owner.op.state_updates(owner.inputs):
                found.setdefault(param, new)
    return list(found.items())


def _lock(param: Variable) -> threading.RLock:
    lock = _locks.get(param)
    if lock is None:
        with _making:
            lock = _locks.get(param)
            if lock is None:
                lock = _locks[param] = threading.RLock()
    return lock


@contextlib.contextmanager
def held(params: Iterable[Variable]) -> Iterator[None]:
    """Hold the lock of each state in ``params`` (taken in one global order, so two
    runs holding several never wait for each other in a circle).

    Example:
        >>> import graphcomp as gc
        >>> rng = gc.random.Generator(0)
        >>> with held([rng.state]):
        ...     int(rng.state.value)
        0
    """
    locks = [_lock(p) for p in sorted(set(params), key=lambda p: p.id)]
    for lock in locks:
        lock.acquire()
    try:
        yield
    finally:
        for lock in reversed(locks):
            lock.release()


@contextlib.contextmanager
def frozen() -> Iterator[None]:
    """Within this block (in this thread), runs of compiled functions and ``evaluate``
    leave every random generator's state as they found it, so each run draws the
    same numbers; other Parameters are updated as usual.

    Example:
        >>> import graphcomp as gc
        >>> rng = gc.random.Generator(0)
        >>> z = rng.normal((2,))
        >>> with frozen():
        ...     a, b = gc.evaluate(z), gc.evaluate(z)
        >>> bool((a == b).all()), int(rng.state.value)
        (True, 0)
    """
    token = _frozen.set(True)
    try:
        yield
    finally:
        _frozen.reset(token)


def is_frozen() -> bool:
    """True inside ``frozen()``.

    Example:
        >>> is_frozen()
        False
    """
    return _frozen.get()
