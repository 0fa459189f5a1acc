"""``graphcomp grad EXPR --wrt x,z --at x=2,z=3``: value, gradients and the
gradient graph of a scalar expression; ``graphcomp train``: the digits example."""

from __future__ import annotations

import argparse
import itertools
import sys

from graphcomp.autodiff.backprop import backprop
from graphcomp.cli.expr import ExpressionError, build_expression, expression_names
from graphcomp.core.node import Variable
from graphcomp.errors import GraphError
from graphcomp.inspect.dot import to_dot
from graphcomp.inspect.text import format_graph
from graphcomp.inspect.trace import format_trace
from graphcomp.runtime.evaluate import evaluate

__all__ = ["main"]


class _UsageError(ValueError):
    pass


def _parse_values(text: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, sep, number = item.partition("=")
        name, number = name.strip(), number.strip()
        if not sep or not name:
            raise _UsageError(f"--at expects name=value pairs, got {item!r}")
        if name in values:
            raise _UsageError(f"--at gives {name} twice")
        try:
            values[name] = float(number)
        except ValueError:
            raise _UsageError(f"--at: the value of {name!r} is not a number: {number!r}") from None
    return values


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="graphcomp", description="Symbolic back-propagation, as in the book.")
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grad", help="value, gradients and gradient graph of a scalar expression")
    g.add_argument("expression", help='e.g. "exp(x*z) + x*z/log(x) + sin(log(x))/(x*z)"')
    g.add_argument("--wrt", default=None, help="comma-separated targets (default: every variable)")
    g.add_argument("--at", required=True, help="the point, e.g. x=2,z=3")
    g.add_argument("--max-lines", type=int, default=200, help="cut the graph print after this many lines")
    g.add_argument("--dot", metavar="FILE", help="write the augmented graph as Graphviz DOT source")
    g.add_argument("--svg", metavar="FILE", help="draw the augmented graph (values and gradients on the edges)")
    g.add_argument("--sympy", action="store_true", help="print the closed forms of the value and gradients")
    g.add_argument("--trace", action="store_true", help="print every step of build_grad (Algorithm 6.6)")
    t = sub.add_parser("train", help="train the MLP or the CNN on scikit-learn's digits (needs graphcomp[examples])")
    t.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    t.add_argument("--epochs", type=int, default=40)
    t.add_argument("--seed", type=int, default=0)
    return p


def run_train(model: str, epochs: int, seed: int) -> str:
    """Train on the digits and report the test accuracy (the ``graphcomp train`` command).

    Example:
        >>> print(run_train("mlp", 1, 0).splitlines()[0])  # doctest: +ELLIPSIS
        mlp on scikit-learn's digits: 1347 training and 450 test images, 1 epoch(s), seed 0
    """
    from graphcomp.examples import digits

    data = digits.load_digits(seed)
    net = digits.mlp(seed=seed) if model == "mlp" else digits.cnn(seed=seed)
    history = digits.train(net, data, epochs=epochs, seed=seed, progress=sys.stderr.isatty())
    lines = [
        f"{model} on scikit-learn's digits: {len(data[1])} training and {len(data[3])} test images, "
        f"{epochs} epoch(s), seed {seed}"
    ]
    for k in sorted({0, len(history.loss) // 2, len(history.loss) - 1}):
        lines.append(f"  epoch {k + 1:3d}: loss {history.loss[k]:.4f}  test accuracy {history.accuracy[k]:.1%}")
    lines.append(f"test accuracy {history.accuracy[-1]:.1%} after {history.seconds:.1f} s")
    return "\n".join(lines)


def run_grad(
    expression: str,
    wrt: str | None,
    at: str,
    max_lines: int = 200,
    *,
    dot: str | None = None,
    svg: str | None = None,
    closed_forms: bool = False,
    trace: bool = False,
) -> str:
    """The text ``graphcomp grad`` prints.

    Example:
        >>> print(run_grad("x*x", "x", "x=3", max_lines=0).splitlines()[2])
        value     y     = 9.0
    """
    names = expression_names(expression)
    values = _parse_values(at)
    missing = [n for n in names if n not in values]
    if missing:
        raise _UsageError(f"--at gives no value for {', '.join(missing)}")
    unused = [n for n in values if n not in names]
    if unused:
        raise _UsageError(f"--at gives {', '.join(unused)}, which the expression does not use")
    targets = names if wrt is None else [t.strip() for t in wrt.split(",") if t.strip()]
    for k, t in enumerate(targets):
        if t not in names:
            raise _UsageError(f"--wrt {t!r} does not appear in the expression")
        if t in targets[:k]:
            raise _UsageError(f"--wrt names {t} twice")
    out = _output_name(names)
    variables = {n: Variable(n) for n in names}
    y = build_expression(expression, variables)
    feed = {variables[n]: values[n] for n in names}
    result = backprop(y, [variables[t] for t in targets], trace=trace)
    grads = [result.grads[variables[t]] for t in targets]
    results = evaluate([y, *grads], feed)
    width = max(len(f"d{out}/d{t}") for t in targets) if targets else 1
    lines = [
        f"{out} = {expression}",
        "at " + ", ".join(f"{n} = {values[n]!r}" for n in names),
        f"value     {out:<{width}} = {float(results[0])!r}",
    ]
    for t, r in zip(targets, results[1:]):
        lines.append(f"gradient  {f'd{out}/d{t}':<{width}} = {float(r)!r}")
    if closed_forms:
        import sympy

        from graphcomp.inspect.sympy_bridge import to_sympy

        lines += ["", "closed forms (SymPy, simplified):", f"  {out} = {to_sympy(y)}"]
        symbols: dict = {}
        for t, g in zip(targets, grads):
            lines.append(f"  d{out}/d{t} = {sympy.simplify(to_sympy(g, symbols=symbols))}")
    if trace:
        lines += ["", "build_grad, step by step (Algorithm 6.6):", format_trace(result.trace)]
    if max_lines > 0:
        lines += ["", "gradient graph (" + ", ".join(f"d{out}/d{t}" for t in targets) + "):"]
        lines.append(format_graph(grads, max_lines=max_lines))
    if dot or svg:
        picture = to_dot(result, feed=feed, title=f"{out} = {expression}")
        for path in filter(None, (dot, svg)):
            lines.append(f"wrote {picture.save(path)}")
    return "\n".join(lines)


def _output_name(names: list[str]) -> str:
    """``y``, as the lectures name the output, unless the expression has a variable
    ``y`` (then ``dy/dy`` would read as 1): the first of f, g, h, ... it does not use."""
    candidates = itertools.chain(("y", "f", "g", "h"), (f"y{k}" for k in itertools.count(1)))
    return next(n for n in candidates if n not in names)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``graphcomp`` command; returns the exit status.

    Example:
        >>> main(["grad", "x*x", "--at", "x=3", "--max-lines", "0"])
        y = x*x
        at x = 3.0
        value     y     = 9.0
        gradient  dy/dx = 6.0
        0
    """
    args = _parser().parse_args(argv)
    if args.command == "train":
        try:
            print(run_train(args.model, args.epochs, args.seed))
        except ImportError as e:
            print(f"graphcomp: error: {e}", file=sys.stderr)
            return 2
        return 0
    try:
        print(
            run_grad(
                args.expression,
                args.wrt,
                args.at,
                args.max_lines,
                dot=args.dot,
                svg=args.svg,
                closed_forms=args.sympy,
                trace=args.trace,
            )
        )
    except (ExpressionError, _UsageError, GraphError, OSError) as e:
        print(f"graphcomp: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
