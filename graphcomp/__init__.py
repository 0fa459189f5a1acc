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

from graphcomp.api import (
    abs,
    add,
    broadcast_to,
    cast,
    concatenate,
    constant,
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
from graphcomp.core.node import Apply, Variable
from graphcomp.errors import (
    BpropError,
    DTypeError,
    GradientError,
    GraphError,
    InputError,
    InputTypeError,
    NonDifferentiableError,
    NotInGraphError,
    ShapeError,
    SignatureError,
)
from graphcomp.inspect.check import check_grad
from graphcomp.inspect.cost import cost_report
from graphcomp.inspect.dot import to_dot
from graphcomp.inspect.explain import explain_grad
from graphcomp.inspect.sympy_bridge import from_sympy, to_sympy
from graphcomp.inspect.text import dprint
from graphcomp.inspect.trace import format_trace, replay
from graphcomp.ops.base import Op
from graphcomp.ops.symbolic import elementwise
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
    "cos",
    "divide",
    "dot",
    "dprint",
    "elementwise",
    "explain_grad",
    "check_grad",
    "cost_report",
    "format_trace",
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
    "not_equal",
    "NotInGraphError",
    "ones_like",
    "Op",
    "power",
    "prune",
    "relu",
    "reshape",
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
