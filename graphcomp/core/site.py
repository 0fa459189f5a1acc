"""Where the user built a node: the first stack frame outside graphcomp."""

from __future__ import annotations

import functools
import os
import sys

from graphcomp.errors import GraphError

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_inside: dict[str, bool] = {}  # filename -> is it graphcomp's own code
_basenames: dict[str, str] = {}
_sites: dict[str, dict[int, Site]] = {}  # filename -> line -> its Site


def _cell_number(filename: str) -> int | None:
    """The execution count of the IPython/Jupyter cell compiled under ``filename``
    (IPython names cells ``/tmp/ipykernel_.../1367789182.py``), or None."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    try:
        shell = ipython.get_ipython()
    except Exception:  # an IPython too old or half imported: plain file names
        return None
    names = getattr(getattr(shell, "compile", None), "_filename_map", None)
    number = names.get(filename) if isinstance(names, dict) else None
    return number if isinstance(number, int) else None


class Site(tuple):
    """``(filename, line)`` of a node's creation; prints as ``file.py:LINE``, or
    ``In [5] line 3`` for line 3 of the notebook cell run as ``In [5]`` (the
    number Jupyter shows beside the cell, as IPython's tracebacks name cells).

    Kept as a raw pair and formatted only when shown, since every node has one.

    Example:
        >>> str(Site(("/home/u/model.py", 12)))
        'model.py:12'
    """

    __slots__ = ()

    def __str__(self) -> str:
        cell = _cell_number(self[0])  # asked each time: re-running a cell gives its file a new number
        if cell is not None:
            return f"In [{cell}] line {self[1]}"
        base = _basenames.get(self[0]) or _basenames.setdefault(self[0], os.path.basename(self[0]))
        return f"{base}:{self[1]}"

    __format__ = lambda self, spec: format(str(self), spec)  # noqa: E731

    def __repr__(self) -> str:
        return repr(str(self))

    @property
    def filename(self) -> str:
        """The full path of the file."""
        return self[0]

    @property
    def line(self) -> int:
        """The line number."""
        return self[1]


def creation_site(skip: int = 1) -> Site:
    """The innermost stack frame outside the graphcomp package, as a Site,
    looking from ``skip`` frames up (callers that know they are called from
    inside graphcomp skip those frames: every node pays this walk).

    Gradient nodes made inside ``gc.grad`` therefore point at the user's
    ``gc.grad`` call, which is where the user asked for them.

    Example:
        >>> str(creation_site()).startswith("<doctest")
        True
    """
    frame = sys._getframe(skip)
    while frame is not None:
        filename = frame.f_code.co_filename
        inside = _inside.get(filename)
        if inside is None:
            inside = _inside[filename] = filename.startswith(_PACKAGE_DIR)
            _sites[filename] = {}
        if not inside:
            # one Site per line, shared by the nodes built there: a loop building 10^5
            # layers makes 10^5 fewer objects for Python's cyclic collector to sweep
            line = frame.f_lineno
            here = _sites[filename]
            site = here.get(line)
            if site is None:
                site = here[line] = Site((filename, line))
            return site
        frame = frame.f_back
    return Site(("<graphcomp>", 0))


def user_errors(fn):
    """Decorate a public builder so its GraphErrors name the user's line.

    Errors raised while checking arguments (before any op is built) then
    read like the ops' own: ``...; built at model.py:12``.

    Example:
        >>> import graphcomp as gc
        >>> try:
        ...     gc.sum(gc.Variable("x", (2,)), axis=3)
        ... except gc.ShapeError as e:
        ...     "built at" in str(e)
        True
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except GraphError as e:
            if e.site is not None:
                raise
            raise with_site(e, creation_site()) from None

    return wrapper


def with_site(e, site: Site):
    """A copy of the GraphError ``e`` that ends with ``; built at <site>``.

    Example:
        >>> from graphcomp.errors import ShapeError
        >>> str(with_site(ShapeError("add: bad"), Site(("m.py", 3))))
        'add: bad; built at m.py:3'
    """
    new = type(e)(f"{e}; built at {site}")
    new.site = site
    return new
