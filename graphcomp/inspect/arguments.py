"""Checking the plain arguments of the inspection tools (counts, choices, streams,
numberings, feeds), so a wrong one is a graphcomp error naming the function and
the argument, never a bare TypeError from deep inside or silent acceptance."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from graphcomp.errors import ArgumentError

__all__ = ["count", "choice", "text_or_none", "stream", "numbering_or_none", "feed_or_none"]


def count(value, what: str, *, least: int = 0) -> int:
    """An int (not a bool) of at least ``least``, or an ArgumentError naming ``what``.

    Example:
        >>> count(np.int64(5), "dprint: max_lines")
        5
        >>> count(-1, "dprint: max_lines")
        Traceback (most recent call last):
        ...
        graphcomp.errors.ArgumentError: dprint: max_lines must be an int >= 0, got -1
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < least:
        raise ArgumentError(f"{what} must be an int >= {least}, got {value!r}"[:300])
    return int(value)


def choice(value, options: tuple[str, ...], what: str) -> str:
    """One of ``options`` (strings), or an ArgumentError naming ``what`` and them.

    Example:
        >>> choice("TB", ("LR", "TB"), "to_dot: rankdir")
        'TB'
    """
    if not isinstance(value, str) or value not in options:
        raise ArgumentError(f"{what} must be one of {', '.join(map(repr, options))}, got {value!r}"[:300])
    return value


def text_or_none(value, what: str) -> str | None:
    """A string or None, or an ArgumentError naming ``what``.

    Example:
        >>> text_or_none(None, "to_dot: title") is None
        True
    """
    if value is not None and not isinstance(value, str):
        raise ArgumentError(f"{what} must be a string or None, got {value!r}"[:300])
    return value


def stream(value, what: str):
    """None (standard output) or an object with a ``write`` method (a text file,
    ``io.StringIO``), or an ArgumentError naming ``what``.

    Example:
        >>> import io
        >>> isinstance(stream(io.StringIO(), "dprint: file"), io.StringIO)
        True
    """
    if value is not None and not callable(getattr(value, "write", None)):
        raise ArgumentError(f"{what} must be a text stream with a write method (a file, io.StringIO) or None, "
                            f"got {value!r}"[:300])  # fmt: skip
    return value


def numbering_or_none(value, what: str):
    """A ``gc.Numbering`` or None, or an ArgumentError naming ``what``.

    Example:
        >>> numbering_or_none(None, "dprint: numbering") is None
        True
    """
    from graphcomp.inspect.numbering import Numbering

    if value is not None and not isinstance(value, Numbering):
        raise ArgumentError(f"{what} must be a gc.Numbering or None, got {value!r}"[:300])
    return value


def feed_or_none(value, what: str) -> Mapping | None:
    """A mapping (from Variables or names to values) or None, or an ArgumentError naming ``what``.

    Example:
        >>> feed_or_none([1.0], "to_dot: feed")
        Traceback (most recent call last):
        ...
        graphcomp.errors.ArgumentError: to_dot: feed must be a mapping from Variables (or names) to values, got [1.0]
    """
    if value is not None and not isinstance(value, Mapping):
        raise ArgumentError(f"{what} must be a mapping from Variables (or names) to values, got {value!r}"[:300])
    return value
