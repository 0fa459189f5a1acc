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
from graphcomp.inspect.text import dprint
from graphcomp.ops.base import Op
from graphcomp.runtime.compile import Function, compile
from graphcomp.runtime.evaluate import EvaluationError, evaluate

__version__ = "0.1.0"
