"""graphcomp: a symbolic graph compiler that does back-propagation as
Goodfellow, Bengio & Courville (2016, section 6.5.6) write it.

The public names are listed once, below: the op families' own ``__all__``
(``graphcomp.ops.FAMILIES``) and, for the rest, ``_EXPORTS``. Each public
function, called with an argument it does not take (a NumPy keyword such as
``out=``), raises ``gc.ArgumentError`` naming it and what it takes
(``graphcomp.core.site.signature_errors``).

Example:
    >>> import graphcomp as gc
    >>> x, z = gc.Variable("x"), gc.Variable("z")
    >>> y = gc.exp(x * z) + x * z / gc.log(x) + gc.sin(gc.log(x)) / (x * z)
    >>> dx, dz = gc.grad(y, [x, z])
    >>> [f"{float(v):.4f}" for v in gc.evaluate([y, dx, dz], {x: 2.0, z: 3.0})]
    ['412.1915', '1208.3812', '809.7075']
"""

import importlib as _importlib
import types as _types

from graphcomp import ops as _ops
from graphcomp.core.site import signature_errors as _signature_errors

__version__ = "0.1.0"

#: module -> the names graphcomp exports from it (besides the op families' functions)
_EXPORTS = {
    "graphcomp.core.node": ("Variable", "Parameter", "Apply"),
    "graphcomp.core.graph": ("Graph",),
    "graphcomp.ops.base": ("Op",),
    "graphcomp.autodiff.prune": ("prune",),
    "graphcomp.autodiff.build_grad": ("build_grad",),
    "graphcomp.autodiff.backprop": ("BackpropResult", "backprop", "grad", "jacobian", "hessian", "hvp"),
    "graphcomp.autodiff.forward": ("jvp",),
    "graphcomp.autodiff.composite": ("op_from_graph",),
    "graphcomp.runtime.evaluate": ("evaluate",),
    "graphcomp.runtime.compile": ("Function", "compile"),
    "graphcomp.inspect.text": ("dprint",),
    "graphcomp.inspect.dot": ("to_dot",),
    "graphcomp.inspect.numbering": ("Numbering",),
    "graphcomp.inspect.trace": ("format_trace", "replay"),
    "graphcomp.inspect.explain": ("explain_grad",),
    "graphcomp.inspect.check": ("check_grad",),
    "graphcomp.inspect.cost": ("cost_report",),
    "graphcomp.persist": ("LoadError", "load", "save"),
    "graphcomp.errors": (
        "GraphError", "ArgumentError", "ShapeError", "DTypeError", "InputError", "InputTypeError",
        "SignatureError", "GradientError", "NonDifferentiableError", "NotInGraphError", "NonFiniteError",
        "BpropError", "EvaluationError", "NodeWarning",
    ),
}  # fmt: skip

#: submodules that are public namespaces of their own (``gc.nn.cross_entropy``)
_NAMESPACES = ("nn", "optim", "data", "random")

# The SymPy bridge imports SymPy, half a second that a script which never asks
# for a closed form should not pay: it is imported on first use of these names.
_LAZY = {"to_sympy": "graphcomp.inspect.sympy_bridge", "from_sympy": "graphcomp.inspect.sympy_bridge"}


def _public(fn):
    """``fn`` as ``gc.<name>``: a plain function not already checked by ``user_errors``
    gets ``signature_errors`` (the module's own function stays as it is: Variable's
    operators call it, and pay nothing)."""
    if isinstance(fn, _types.FunctionType) and not hasattr(fn, "__wrapped__"):
        return _signature_errors(fn)
    return fn


def _export() -> list[str]:
    names = []
    for family in _ops.FAMILIES:
        globals().update({n: _public(getattr(family, n)) for n in family.__all__})
        names += family.__all__
    for module_name, exported in _EXPORTS.items():
        module = _importlib.import_module(module_name)
        globals().update({n: _public(getattr(module, n)) for n in exported})
        names += exported
    for n in _NAMESPACES:
        globals()[n] = _importlib.import_module(f"graphcomp.{n}")
    return names + list(_NAMESPACES) + list(_LAZY)


__all__ = _export()


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'graphcomp' has no attribute {name!r}")
    value = globals()[name] = getattr(_importlib.import_module(module), name)
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
