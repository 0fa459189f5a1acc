"""Parse a scalar expression into a graph, by a whitelist over Python's ``ast``.

Only numbers, names, ``+ - * / **``, unary minus and calls of graphcomp's
elementwise functions are accepted. Nothing is ever passed to ``eval`` or to
``sympy.sympify``: the text is only parsed, never run.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect

from graphcomp import ops
from graphcomp.core.node import Variable, constant
from graphcomp.ops.base import REGISTRY
from graphcomp.ops.binary import add, divide, multiply, power, subtract
from graphcomp.ops.elementwise import negative

__all__ = ["ExpressionError", "FUNCTIONS", "expression_names", "build_expression", "functions"]


class ExpressionError(ValueError):
    """The expression is not in the accepted language; the message says what and where."""


def functions() -> dict:
    """The functions an expression may call: graphcomp's public elementwise functions of
    one or two arguments that have no parameters and are differentiable, written in
    Python as calls (``exp``, ``maximum``; not ``+`` or unary minus), with their
    number of arguments. New elementwise ops join by themselves.

    Example:
        >>> table = functions()
        >>> table["exp"][1], table["maximum"][1], "add" in table
        (1, 2, False)
    """
    public = {name: getattr(family, name) for family in ops.FAMILIES for name in family.__all__}
    table = {}
    for name, cls in REGISTRY.items():
        if not (cls.elementwise and cls.differentiable and cls.infix is None) or dataclasses.fields(cls):
            continue
        arity = len(inspect.signature(cls.infer).parameters) - 1  # infer(self, x[, y])
        if name in public and arity in (1, 2):
            table[name] = (public[name], arity)
    return table


#: callable names and their number of arguments
FUNCTIONS = functions()

_BINOPS = {
    ast.Add: add,
    ast.Sub: subtract,
    ast.Mult: multiply,
    ast.Div: divide,
    ast.Pow: power,
}
_ALLOWED = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Call, ast.Load)
_ALLOWED += tuple(_BINOPS) + (ast.USub, ast.UAdd)


def _where(node) -> str:
    col = getattr(node, "col_offset", None)
    return "" if col is None else f" at column {col + 1}"


def _parse(text: str) -> ast.Expression:
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("the expression is empty")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise ExpressionError(f"syntax error at column {e.offset or 0}: {e.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError("the expression is nested too deeply or is not text") from None
    for node in ast.walk(tree):  # ast.walk is iterative (a queue)
        if not isinstance(node, _ALLOWED):
            raise ExpressionError(f"unsupported syntax {type(node).__name__!r}{_where(node)}")
        if isinstance(node, ast.Constant) and (
            isinstance(node.value, bool) or not isinstance(node.value, (int, float))
        ):
            raise ExpressionError(f"unsupported constant {node.value!r}{_where(node)}; only numbers are allowed")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                raise ExpressionError(f"unsupported syntax {type(node.func).__name__!r}{_where(node.func)}")
            if node.func.id not in FUNCTIONS:
                name = node.func.id
                raise ExpressionError(
                    f"unknown function {name!r}{_where(node)}; allowed: {', '.join(sorted(FUNCTIONS))}"
                )
            if node.keywords:
                raise ExpressionError(f"keyword arguments are not allowed{_where(node)}")
            arity = FUNCTIONS[node.func.id][1]
            if len(node.args) != arity:
                raise ExpressionError(f"{node.func.id} takes {arity} argument(s), got {len(node.args)}{_where(node)}")
    return tree


def _variable_names(tree: ast.Expression) -> list[str]:
    """Names used as variables, in order of first appearance in the text."""
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    first: dict[str, int] = {}
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and id(n) not in called:
            if n.id in FUNCTIONS:
                raise ExpressionError(f"{n.id!r} is a function, used as a variable{_where(n)}")
            if n.id.startswith("_"):
                raise ExpressionError(f"names may not start with an underscore: {n.id!r}{_where(n)}")
            first[n.id] = min(first.get(n.id, n.col_offset), n.col_offset)
    return sorted(first, key=first.__getitem__)


def expression_names(text: str) -> list[str]:
    """The variable names an expression uses, in order of first appearance.

    Example:
        >>> expression_names("exp(x*z) + x")
        ['x', 'z']
    """
    return _variable_names(_parse(text))


def build_expression(text: str, variables: dict[str, Variable]) -> Variable:
    """Build the graph of ``text`` over ``variables`` (name -> Variable).

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> float(gc.evaluate(build_expression("2*sin(x)**2", {"x": x}), {x: 0.0}))
        0.0
    """
    tree = _parse(text)
    for name in _variable_names(tree):
        if name not in variables:
            raise ExpressionError(f"no value given for {name!r}")
    # post-order walk on an explicit stack: children before their parent
    values: dict[int, Variable] = {}
    stack: list[tuple[ast.AST, bool]] = [(tree.body, False)]
    while stack:
        node, ready = stack.pop()
        if isinstance(node, ast.Constant):
            values[id(node)] = constant(float(node.value))
            continue
        if isinstance(node, ast.Name):
            values[id(node)] = variables[node.id]
            continue
        children = (
            [node.left, node.right]
            if isinstance(node, ast.BinOp)
            else [node.operand]
            if isinstance(node, ast.UnaryOp)
            else list(node.args)
        )
        if not ready:
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(children))
            continue
        args = [values.pop(id(c)) for c in children]
        if isinstance(node, ast.BinOp):
            values[id(node)] = _BINOPS[type(node.op)](*args)
        elif isinstance(node, ast.UnaryOp):
            values[id(node)] = negative(args[0]) if isinstance(node.op, ast.USub) else args[0]
        else:
            values[id(node)] = FUNCTIONS[node.func.id][0](*args)
    return values[id(tree.body)]
