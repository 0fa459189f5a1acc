"""graphcomp: a symbolic graph compiler that does back-propagation as
Goodfellow, Bengio & Courville (2016, section 6.5.6) write it.

Example:
    >>> import graphcomp as gc
    >>> x, z = gc.Variable("x"), gc.Variable("z")
    >>> y = gc.exp(x * z) + x * z / gc.log(x) + gc.sin(gc.log(x)) / (x * z)
    >>> dx, dz = gc.grad(y, [x, z])
    >>> [round(float(v), 4) for v in gc.evaluate([y, dx, dz], {x: 2.0, z: 3.0})]
    [412.1915, 1208.3812, 809.7075]
"""

from graphcomp import nn, optim  # noqa: E402
from graphcomp.api import (
    abs,
    add,
    broadcast_to,
    cast,
    concatenate,
    constant,
    conv2d,
    cos,
    divide,
    dot,
    equal,
    exp,
    expand_dims,
    expm1,
    getitem,
    greater,
    greater_equal,
    less,
    less_equal,
    log,
    log1p,
    log_softmax,
    logsumexp,
    matmul,
    max,
    max_pool2d,
    maximum,
    mean,
    min,
    minimum,
    multiply,
    negative,
    not_equal,
    ones_like,
    power,
    relu,
    reshape,
    sigmoid,
    sign,
    sin,
    softmax,
    softplus,
    sqrt,
    square,
    squeeze,
    stack,
    stop_gradient,
    subtract,
    sum,
    tan,
    tanh,
    transpose,
    where,
    zeros_like,
)
from graphcomp.autodiff.backprop import BackpropResult, backprop, grad, hessian, hvp, jacobian
from graphcomp.autodiff.build_grad import build_grad
from graphcomp.autodiff.prune import prune
from graphcomp.core.graph import Graph
from graphcomp.core.node import Apply, Parameter, Variable
from graphcomp.errors import (
    ArgumentError,
    BpropError,
    DTypeError,
    GradientError,
    GraphError,
    InputError,
    InputTypeError,
    NonDifferentiableError,
    NonFiniteError,
    NotInGraphError,
    ShapeError,
    SignatureError,
)
from graphcomp.inspect.check import check_grad
from graphcomp.inspect.cost import cost_report
from graphcomp.inspect.dot import to_dot
from graphcomp.inspect.explain import explain_grad
from graphcomp.inspect.text import dprint
from graphcomp.inspect.trace import format_trace, replay
from graphcomp.ops.base import Op
from graphcomp.ops.loops import fori_loop, map, scan
from graphcomp.ops.symbolic import elementwise
from graphcomp.persist import LoadError, load, save
from graphcomp.runtime.compile import Function, compile
from graphcomp.runtime.evaluate import EvaluationError, evaluate

__version__ = "0.1.0"

__all__ = [
    "abs",
    "add",
    "Apply",
    "backprop",
    "BackpropResult",
    "BpropError",
    "broadcast_to",
    "build_grad",
    "cast",
    "compile",
    "concatenate",
    "constant",
    "conv2d",
    "max_pool2d",
    "cos",
    "divide",
    "dot",
    "dprint",
    "elementwise",
    "explain_grad",
    "check_grad",
    "cost_report",
    "format_trace",
    "fori_loop",
    "from_sympy",
    "replay",
    "to_dot",
    "to_sympy",
    "DTypeError",
    "equal",
    "evaluate",
    "EvaluationError",
    "exp",
    "expand_dims",
    "expm1",
    "Function",
    "getitem",
    "grad",
    "GradientError",
    "Graph",
    "GraphError",
    "greater",
    "greater_equal",
    "hessian",
    "hvp",
    "InputError",
    "InputTypeError",
    "jacobian",
    "less",
    "less_equal",
    "log",
    "log1p",
    "log_softmax",
    "map",
    "logsumexp",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "multiply",
    "negative",
    "NonDifferentiableError",
    "NonFiniteError",
    "ArgumentError",
    "not_equal",
    "NotInGraphError",
    "ones_like",
    "Op",
    "Parameter",
    "nn",
    "optim",
    "LoadError",
    "load",
    "save",
    "power",
    "prune",
    "relu",
    "reshape",
    "scan",
    "ShapeError",
    "sigmoid",
    "sign",
    "SignatureError",
    "sin",
    "softmax",
    "softplus",
    "sqrt",
    "square",
    "squeeze",
    "stack",
    "stop_gradient",
    "subtract",
    "sum",
    "tan",
    "tanh",
    "transpose",
    "Variable",
    "where",
    "zeros_like",
]

# The SymPy bridge imports SymPy, half a second that a script which never asks
# for a closed form should not pay: it is imported on first use of these names.
_LAZY = {"to_sympy": "graphcomp.inspect.sympy_bridge", "from_sympy": "graphcomp.inspect.sympy_bridge"}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'graphcomp' has no attribute {name!r}")
    import importlib

    value = globals()[name] = getattr(importlib.import_module(module), name)
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
