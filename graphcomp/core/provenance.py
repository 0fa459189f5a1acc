"""Where and why a node was built: its creation site and its gradient role.

Every node records the user's line that built it (``site``) and, for a node
that build_grad inserted, the node whose gradient it helps build
(``grad_of``). Nodes built by user code take both from here: the innermost
``building`` block of this thread, else the first stack frame outside
graphcomp and no gradient role. Code that builds a node itself (a pass
rebuilding it, the loader) passes the provenance explicitly to
``make_apply``/``constant`` instead; a block is needed only where ops are
applied through user-level code: an op's bprop, a rewrite rule.

The stacks are per thread, so graphs can be built from several threads at once.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any

from graphcomp.core.site import Site

__all__ = ["Provenance", "building", "gradient_of", "enter", "leave", "current", "stacks"]

#: ``(site, grad_of)``: the line that built a node, and whose gradient it is part of (None: forward)
Provenance = tuple


class _Stacks(threading.local):
    """This thread's open blocks: parallel stacks of sites and gradient roles."""

    def __init__(self):
        self.site: list[Site | None] = []
        self.grad_of: list[Any] = []


#: this thread's stacks; node construction reads their tops directly (every node pays it)
stacks = _Stacks()
_INHERIT = object()  # a block that leaves one of the two as the enclosing block set it


def enter(site=_INHERIT, grad_of=_INHERIT) -> None:
    """Open a block whose nodes are built at ``site`` as part of ``grad_of``'s gradient.

    ``enter``/``leave`` are the two halves of ``building`` without a context
    manager, for loops that open a block per node (build_grad, the rewrite rules);
    an omitted argument keeps the enclosing block's value.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> enter(grad_of=x)
        >>> try:
        ...     g = x * 2.0
        ... finally:
        ...     leave()
        >>> g.grad_of is x
        True
    """
    if site is _INHERIT:
        site = stacks.site[-1] if stacks.site else None
    if grad_of is _INHERIT:
        grad_of = stacks.grad_of[-1] if stacks.grad_of else None
    stacks.site.append(site)
    stacks.grad_of.append(grad_of)


def leave() -> None:
    """Close the innermost block opened by ``enter``."""
    stacks.site.pop()
    stacks.grad_of.pop()


@contextmanager
def building(site=_INHERIT, grad_of=_INHERIT):
    """Build nodes inside the block at ``site`` (None: find the user's line) as
    part of ``grad_of``'s gradient (None: forward nodes).

    Example:
        >>> import graphcomp as gc
        >>> with building(Site(("model.py", 7)), None):
        ...     y = gc.exp(gc.Variable("x"))
        >>> str(y.site), y.role
        ('model.py:7', 'forward')
    """
    enter(site, grad_of)
    try:
        yield
    finally:
        leave()


def gradient_of(v):
    """A block whose nodes are part of ``v``'s gradient (their site is found as usual).

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> with gradient_of(x):
        ...     g = x * 2.0
        >>> g.role, g.grad_of is x
        ('grad', True)
    """
    return building(grad_of=v)


def current() -> tuple[Site | None, Any]:
    """The innermost block's ``(site, grad_of)``; ``(None, None)`` outside any block.

    Example:
        >>> current()
        (None, None)
    """
    if not stacks.site:
        return None, None
    return stacks.site[-1], stacks.grad_of[-1]
