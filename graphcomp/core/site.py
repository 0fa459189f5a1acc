"""Where the user built a node: the first stack frame outside graphcomp."""

from __future__ import annotations

import functools
import inspect
import os
import re
import sys

from graphcomp.errors import ArgumentError, GraphError

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
        except TypeError as e:
            if e.__traceback__.tb_next is not None:  # raised inside fn, not by the call's arguments
                raise
            raise with_site(call_error(fn, e), creation_site()) from None

    return wrapper


def signature_errors(fn):
    """Decorate a public function so a call with arguments it does not take (a NumPy
    keyword graphcomp lacks, a missing argument) raises ``gc.ArgumentError`` naming the
    function and saying what it takes, instead of Python's bare TypeError; nothing
    else changes (``user_errors`` does this too, for builders).

    Example:
        >>> import graphcomp as gc
        >>> f = signature_errors(lambda x, axis=None: x)
        >>> try:
        ...     f(1, ord=2)
        ... except gc.ArgumentError as e:
        ...     print(e)
        <lambda>: no keyword argument 'ord'; it takes (x, axis=None)
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except TypeError as e:
            if e.__traceback__.tb_next is not None or isinstance(e, GraphError):
                raise
            raise call_error(fn, e) from None

    return wrapper


#: what NumPy's keywords mean here, where graphcomp has none of the name
_NUMPY_KEYWORDS = {
    "out": "graphcomp builds a new node; there are no output arrays to write into",
    "dtype": "cast the input or the result instead: gc.cast(x, dtype) or x.astype(dtype)",
    "where": "select with gc.where instead",
    "casting": "graphcomp does not take NumPy's casting rules; cast with gc.cast",
    "order": "graph values have no memory layout to choose",
    "subok": "graph values have no array subclasses",
    "initial": "graphcomp's reductions take no initial value",
}


def call_error(fn, e: TypeError) -> ArgumentError:
    """The ArgumentError for calling ``fn`` with arguments it does not take (Python's
    TypeError ``e``): the function's name, what was wrong, and its parameters.

    Example:
        >>> def norm(x, axis=None, keepdims=False): ...
        >>> str(call_error(norm, TypeError("norm() got an unexpected keyword argument 'out'")))[:80]
        "norm: no keyword argument 'out' (graphcomp builds a new node; there are no outpu"
    """
    name = getattr(fn, "__name__", "function")
    try:
        sig = inspect.signature(fn)
        sig = sig.replace(
            parameters=[p.replace(annotation=p.empty) for p in sig.parameters.values()],
            return_annotation=sig.empty,
        )
        params = str(sig)
    except (TypeError, ValueError):
        params = "(...)"
    text = str(e)
    unexpected = re.search(r"unexpected keyword argument '(\w+)'", text)
    if unexpected:
        word = unexpected.group(1)
        hint = _NUMPY_KEYWORDS.get(word)
        what = f"no keyword argument {word!r}" + (f" ({hint})" if hint else "")
    else:
        what = re.sub(r"^[\w.<>]+\(\) ", "", text)  # "f() missing 1 required ..." -> "missing 1 required ..."
    return ArgumentError(f"{name}: {what}; it takes {params}")


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
