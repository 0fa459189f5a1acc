"""Where and why a node was built: its creation site, its derivative and its role.

Every node records the user's line that built it (``site``), for a node that
build_grad inserted the node whose gradient it helps build (``grad_of``), and
its ``role``: one of ``ROLES``, ``"forward"`` for the user's own nodes,
``"grad"`` for the nodes build_grad inserted, ``"tangent"`` for the nodes
forward mode (``gc.jvp``) inserted. A block may set the role explicitly (jvp
opens a ``"tangent"`` block, and build_grad's blocks inside it inherit that
role); otherwise it follows ``grad_of``: ``"grad"`` when set, else
``"forward"``. The printers ask ``v.role`` and ``ROLES`` only, so a new role is
one entry there.

Nodes built by user code take all three from here: the innermost ``building``
block of this thread, else the first stack frame outside graphcomp and no
gradient role. Code that builds a node itself (a pass rebuilding it, the
loader) passes the provenance explicitly to ``make_apply``/``constant``
instead (``of(v)`` is a node's own); a block is needed only where ops are
applied through user-level code: an op's bprop, a rewrite rule.

The stacks are per thread, so graphs can be built from several threads at once.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any

from graphcomp.core.site import Site
from graphcomp.errors import ArgumentError

__all__ = ["Provenance", "ROLES", "building", "gradient_of", "enter", "leave", "current", "stacks", "of", "role_of"]

#: ``(site, grad_of, role)``: the line that built a node, whose gradient it is part of (None:
#: none), and its role; a pair ``(site, grad_of)`` takes the role ``grad_of`` implies
Provenance = tuple

#: each role a node can have, with what the printers' legends say of it
ROLES = {
    "forward": "forward",
    "grad": "inserted by build_grad",
    "tangent": "inserted by jvp (forward mode)",
}


class _Stacks(threading.local):
    """This thread's open blocks: parallel stacks of sites, gradient owners and roles."""

    def __init__(self):
        self.site: list[Site | None] = []
        self.grad_of: list[Any] = []
        self.role: list[str | None] = []  # None: the role follows grad_of


#: this thread's stacks; node construction reads their tops directly (every node pays it)
stacks = _Stacks()
_INHERIT = object()  # a block that leaves one of the two as the enclosing block set it


def role_of(grad_of, role: str | None = None) -> str:
    """The role of a node built as part of ``grad_of``'s gradient in a block of ``role``:
    the block's role when it sets one, else ``"grad"`` or ``"forward"``.

    Example:
        >>> role_of(None), role_of(object()), role_of(None, "tangent")
        ('forward', 'grad', 'tangent')
    """
    if role is not None:
        return role
    return "forward" if grad_of is None else "grad"


def of(v) -> tuple:
    """Node ``v``'s own provenance ``(site, grad_of, role)``, for a node built in its place.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> of(x)[1:]
        (None, 'forward')
    """
    return v.site, v.grad_of, v.role


def enter(site=_INHERIT, grad_of=_INHERIT, role=_INHERIT) -> None:
    """Open a block whose nodes are built at ``site`` as part of ``grad_of``'s gradient,
    in ``role`` (one of ``ROLES``; None: as ``grad_of`` implies).

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
    if role is _INHERIT:
        role = stacks.role[-1] if stacks.role else None
    elif role is not None and role not in ROLES:
        raise ArgumentError(f"provenance: unknown role {role!r}; the roles are {list(ROLES)}")
    stacks.site.append(site)
    stacks.grad_of.append(grad_of)
    stacks.role.append(role)


def leave() -> None:
    """Close the innermost block opened by ``enter``."""
    stacks.site.pop()
    stacks.grad_of.pop()
    stacks.role.pop()


@contextmanager
def building(site=_INHERIT, grad_of=_INHERIT, role=_INHERIT):
    """Build nodes inside the block at ``site`` (None: find the user's line) as
    part of ``grad_of``'s gradient (None: forward nodes), in ``role`` (omitted:
    the enclosing block's; None: as ``grad_of`` implies).

    Example:
        >>> import graphcomp as gc
        >>> with building(Site(("model.py", 7)), None):
        ...     y = gc.exp(gc.Variable("x"))
        >>> str(y.site), y.role
        ('model.py:7', 'forward')
        >>> with building(role="tangent"):
        ...     t = gc.exp(gc.Variable("x"))
        >>> t.role
        'tangent'
    """
    enter(site, grad_of, role)
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
