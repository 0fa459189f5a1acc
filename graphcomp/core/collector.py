"""Pausing Python's cyclic garbage collector during big graph passes.

Graph nodes are long-lived containers; while a pass creates hundreds of
thousands of them, the collector's full sweeps cost a third of the time and
free nothing. Reference counting still frees everything as usual.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def paused():
    """Disable the cyclic collector inside the block (re-entrant, restores the old state).

    Example:
        >>> import gc
        >>> with paused():
        ...     gc.isenabled()
        False
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
