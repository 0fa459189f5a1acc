"""The disk cache of whole-function code.

Numba's ``cache=True`` keeps compiled machine code beside the source file of the
function, keyed by that file's name, time stamp and the argument types. The
generated function has no file of its own, so this module writes one: the
module's text, named by the SHA-256 of that text (less the comments in its body, which
name the user's lines), in the cache directory
(``$GRAPHCOMP_CACHE_DIR``, else ``$XDG_CACHE_HOME/graphcomp/numba``, else
``~/.cache/graphcomp/numba``; a temporary directory where none is writable).
The text holds everything the code depends on: the graph's ops, shapes, dtypes
and 0-d constants (array constants and Parameters are arguments), the Numba
version, and the source of every scalar helper it calls. A file is written once
and never changed, so its stamp stays valid; a graph that changes has another
text, hence another file, and compiles afresh.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
import tempfile
import threading
import types

__all__ = ["cache_dir", "module_text", "load"]

_lock = threading.Lock()
_loaded: dict[str, object] = {}  # module name -> its compiled function, within this process
_jitted: dict = {}


def cache_dir() -> str:
    """The directory holding the generated modules and Numba's cache files.

    Example:
        >>> import os
        >>> os.path.isdir(cache_dir())
        True
    """
    chosen = os.environ.get("GRAPHCOMP_CACHE_DIR")
    if not chosen:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        chosen = os.path.join(base, "graphcomp", "numba")
    try:
        os.makedirs(chosen, exist_ok=True)
        if os.access(chosen, os.W_OK):
            return chosen
    except OSError:
        pass
    fallback = os.path.join(tempfile.gettempdir(), f"graphcomp-numba-{os.getuid() if hasattr(os, 'getuid') else 0}")
    os.makedirs(fallback, exist_ok=True)
    return fallback


def _describe(name: str, fn) -> str:
    """A helper's line in the module header: where it comes from, and a hash of its
    source (so an edited helper makes a new cache entry)."""
    if isinstance(fn, types.BuiltinFunctionType):
        return f"# helper {name} = {fn.__module__}.{fn.__name__}"
    try:
        text = inspect.getsource(fn)
    except (OSError, TypeError):
        text = repr(fn.__code__.co_code)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"# helper {name} = {fn.__module__}.{fn.__qualname__} (source {digest})"


def module_text(function: str, helpers: dict) -> str:
    """The generated module: a header naming what it depends on, then the function
    under ``numba.njit``.

    Example:
        >>> print(module_text("def compiled(x):\\n    return (x,)\\n", {}).splitlines()[-3])
        @njit(cache=True, error_model="numpy", nogil=True)
    """
    numba = importlib.import_module("numba")
    lines = [
        '"""graphcomp whole-function code, generated; the file name is a hash of this text."""',
        f"# numba {numba.__version__}, numpy {importlib.import_module('numpy').__version__}",
        *(_describe(name, fn) for name, fn in sorted(helpers.items())),
        "import math",
        "",
        "import numpy as np",
        "from numba import njit",
        "",
        "",
        '@njit(cache=True, error_model="numpy", nogil=True)',
    ]
    return "\n".join(lines) + "\n" + function


def _jit_helper(numba, fn):
    """A helper as the native code calls it: builtins (math.exp) as they are, an intrinsic
    (``kernels.gemm``) written into the caller's code, any other Python function (a scalar
    form's helper) compiled into the caller."""
    if isinstance(fn, types.BuiltinFunctionType):
        return fn
    hit = _jitted.get(fn)
    if hit is None:
        if getattr(fn, "graphcomp_intrinsic", False):
            hit = numba.extending.intrinsic(fn)
        else:
            hit = numba.njit(inline="always")(fn)
        _jitted[fn] = hit
    return hit


def _key(text: str) -> str:
    """The hash naming a module: of its text less the comments in the body, which name
    the user's lines that built each node and are not part of what is compiled."""
    code = "\n".join(line for line in text.splitlines() if not line.startswith("    #"))
    return hashlib.sha256(code.encode()).hexdigest()[:32]


def _intact(path: str, key: str) -> bool:
    """Whether the module file at ``path`` still hashes to the key in its name. Numba's
    cache checks only the file's time stamp and size against its compiled code, so an
    edited module would run as written, and one cut short (a full disk) would fail to
    load on every later compile; rewriting it also invalidates Numba's cached code."""
    try:
        with open(path, encoding="utf-8") as f:
            return _key(f.read()) == key
    except (OSError, UnicodeDecodeError):
        return False


def load(function: str, helpers: dict, signature: tuple):
    """The compiled function for ``function`` (its text) taking ``signature``: from this
    process's memory, else from the disk cache, else compiled now (and cached).
    Returns ``(dispatcher, path of the module file, whether it came from a cache)``."""
    numba = importlib.import_module("numba")
    text = module_text(function, helpers)
    key = _key(text)
    name = f"graphcomp_whole_{key}"
    with _lock:
        directory = cache_dir()
        path = os.path.join(directory, f"{name}.py")
        hit = _loaded.get(name)
        if hit is not None and signature in hit.overloads:
            return hit, path, True
        if not _intact(path, key):  # absent, or edited or cut short since it was written: write it anew
            fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.replace(tmp, path)  # atomic: a concurrent process sees the whole file or none
        module = sys.modules.get(name)
        if module is None:
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            for helper, fn in helpers.items():
                setattr(module, helper, _jit_helper(numba, fn))
            sys.modules[name] = module  # Numba's cache finds the module's globals by its name
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[name]
                raise
        dispatcher = module.compiled
        dispatcher.disable_compile(False)
        dispatcher.compile(signature)
        # calls then convert to the compiled signature (a writable array to the read-only one)
        # instead of compiling the whole function again for each flag and layout; what does not
        # convert (a strided view) raises, and the wrapper retries with contiguous copies
        dispatcher.disable_compile(True)
        stats = dispatcher.stats
        cached = signature in stats.cache_hits
        _loaded[name] = dispatcher
        return dispatcher, path, cached
