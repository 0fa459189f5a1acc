"""``graphcomp grad EXPR --wrt x,z --at x=2,z=3``: value, gradients and the
gradient graph of a scalar expression; ``graphcomp train``: the digits example."""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import warnings

from graphcomp.autodiff.backprop import backprop
from graphcomp.cli.expr import FUNCTIONS, ExpressionError, build_expression, expression_names
from graphcomp.core.node import Variable
from graphcomp.errors import ArgumentError, GraphError, NodeWarning
from graphcomp.inspect.dot import output_format, to_dot
from graphcomp.inspect.numbering import Numbering
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
    if not values:
        raise _UsageError("--at gives no value; write e.g. --at x=2,z=3")
    return values


def _names(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",")]
    if not all(names):
        raise _UsageError(f"--wrt expects comma-separated variable names, got {text!r}")
    for k, t in enumerate(names):
        if t in names[:k]:
            raise _UsageError(f"--wrt names {t} twice")
    return names


def _integer(minimum: int, maximum: int | None = None):
    """An argparse type: an integer in [minimum, maximum], or a usage error saying so."""
    span = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expects an integer {span}, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"expects an integer {span}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def _rate(text: str) -> float:
    """An argparse type: a dropout rate, a number in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects a number from 0 up to (not including) 1, got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expects a number from 0 up to (not including) 1, got {value}")
    return value


def _file(formats: tuple[str, ...], option: str, other: str):
    """An argparse type: a path whose suffix names one of ``formats`` and whose folder exists."""

    def parse(path: str) -> str:
        try:
            fmt = output_format(path)
        except GraphError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        if fmt not in formats:
            raise argparse.ArgumentTypeError(f"{option} writes {' or '.join(formats)}, not {fmt}; use {other}")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise argparse.ArgumentTypeError(f"the folder {folder!r} does not exist")
        return path

    parse.__name__ = "file"
    return parse


def _argparse_type(convert):
    """Turn a parser of ours that raises _UsageError into an argparse type."""

    def parse(text: str):
        try:
            return convert(text)
        except _UsageError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    parse.__name__ = convert.__name__.lstrip("_")
    return parse


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="graphcomp", description="Symbolic back-propagation, as in the book.")
    sub = p.add_subparsers(dest="command", required=True, metavar="{grad,train}")
    g = sub.add_parser(
        "grad",
        help="value, gradients and gradient graph of a scalar expression",
        description="Differentiate a scalar expression by build_grad (Algorithm 6.6) and print the value, "
        "the gradients and the gradient graph; every option below is checked before anything runs.",
    )
    functions = ", ".join(FUNCTIONS)
    g.add_argument(
        "expression",
        help='the expression, e.g. "exp(x*z) + x*z/log(x) + sin(log(x))/(x*z)": numbers, variable names, '
        f"+ - * / **, unary minus and the functions {functions}; it is parsed, never run",
    )
    g.add_argument(
        "--wrt",
        metavar="NAMES",
        type=_argparse_type(_names),
        default=None,
        help="comma-separated variables to differentiate with respect to, each once "
        "(default: every variable, in order of appearance)",
    )
    g.add_argument(
        "--at",
        metavar="POINT",
        type=_argparse_type(_parse_values),
        required=True,
        help="the point: a number for every variable of the expression and no other, e.g. x=2,z=3",
    )
    g.add_argument(
        "--max-lines",
        metavar="N",
        type=_integer(0),
        default=200,
        help="print at most N lines of the gradient graph; 0 prints none (default: 200)",
    )
    g.add_argument(
        "--dot",
        metavar="FILE",
        type=_file(("dot",), "--dot", "--svg for a picture"),
        help="write the augmented graph as Graphviz DOT source to FILE (.dot or .gv)",
    )
    g.add_argument(
        "--svg",
        metavar="FILE",
        type=_file(("svg", "png", "pdf"), "--svg", "--dot for DOT source"),
        help="draw the augmented graph, each edge with its value and gradient, to FILE; the format "
        "follows the suffix: .svg, .png or .pdf (Graphviz's dot when installed, else matplotlib)",
    )
    g.add_argument("--sympy", action="store_true", help="also print the closed forms of the value and gradients")
    g.add_argument(
        "--trace",
        action="store_true",
        help="also print every step of build_grad (Algorithm 6.6), numbered as the graph below",
    )
    p.grad_parser = g  # main prints its usage for an option that does not fit the expression
    t = sub.add_parser(
        "train",
        help="train the MLP or the CNN on scikit-learn's digits (needs graphcomp[examples])",
        description="Train on scikit-learn's digits and report the test accuracy.",
    )
    t.add_argument(
        "--model",
        choices=["mlp", "cnn"],
        default="mlp",
        help="mlp: one hidden layer; cnn: conv, max-pool, relu, linear (default: mlp)",
    )
    t.add_argument(
        "--optimizer",
        choices=["sgd", "adam"],
        default="sgd",
        help="sgd: SGD with momentum 0.9, lr 0.05; adam: Adam, lr 0.01; each rate divided by 10 for the "
        "last quarter of the epochs (default: sgd)",
    )
    t.add_argument(
        "--dropout",
        metavar="RATE",
        type=_rate,
        default=0.0,
        help="inverted dropout of this rate, 0 <= RATE < 1, on the MLP's hidden layer or before the CNN's "
        "linear layer, while training (default: 0.0)",
    )
    t.add_argument(
        "--batch-norm",
        action="store_true",
        help="normalise the CNN's convolution outputs per channel (batch statistics while training, running "
        "statistics for the test accuracy); cnn only",
    )
    t.add_argument(
        "--epochs",
        metavar="N",
        type=_integer(1),
        default=40,
        help="passes over the training images, at least 1 (default: 40)",
    )
    t.add_argument(
        "--seed",
        metavar="S",
        type=_integer(0, 2**32 - 1),
        default=0,
        help="seed of the split, the initial weights, the batch order and the dropout masks, 0 .. 2**32-1 (default: 0)",
    )
    p.train_parser = t
    return p


def run_train(
    model: str, epochs: int, seed: int, optimizer: str = "sgd", dropout: float = 0.0, batch_norm: bool = False
) -> str:
    """Train on the digits and report the test accuracy (the ``graphcomp train`` command).

    ``model`` is ``"mlp"`` or ``"cnn"``, ``epochs`` an int >= 1, ``seed`` an int
    in 0 .. 2**32-1, ``optimizer`` ``"sgd"`` or ``"adam"``, ``dropout`` a rate in
    [0, 1), ``batch_norm`` (the CNN's) True or False; anything else raises
    ``gc.ArgumentError``.

    Example:
        >>> print(run_train("mlp", 1, 0, "adam").splitlines()[0])  # doctest: +ELLIPSIS
        mlp with adam on scikit-learn's digits: 1347 training and 450 test images, 1 epoch(s), seed 0
    """
    from graphcomp.examples import digits

    if model not in ("mlp", "cnn"):
        raise ArgumentError(f"run_train: model must be 'mlp' or 'cnn', got {model!r}")
    if optimizer not in ("sgd", "adam"):
        raise ArgumentError(f"run_train: optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    for name, value, low, high in (("epochs", epochs, 1, None), ("seed", seed, 0, 2**32 - 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (high and value > high):
            span = f">= {low}" if high is None else f"from {low} to {high}"
            raise ArgumentError(f"run_train: {name} must be an integer {span}, got {value!r}")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ArgumentError(f"run_train: dropout must be a number in [0, 1), got {dropout!r}")
    if not isinstance(batch_norm, bool) or (batch_norm and model != "cnn"):
        raise ArgumentError(f"run_train: batch_norm must be True (cnn only) or False, got {batch_norm!r}")

    data = digits.load_digits(seed)
    if model == "mlp":
        net = digits.mlp(seed=seed, dropout=dropout)
    else:
        net = digits.cnn(seed=seed, batch_norm=batch_norm, dropout=dropout)
    history = digits.train(net, data, epochs=epochs, optimizer=optimizer, seed=seed, progress=sys.stderr.isatty())
    lines = [
        f"{net.name} with {optimizer} on scikit-learn's digits: {len(data[1])} training and {len(data[3])} "
        f"test images, {epochs} epoch(s), seed {seed}"
    ]
    for k in sorted({0, len(history.loss) // 2, len(history.loss) - 1}):
        lines.append(f"  epoch {k + 1:3d}: loss {history.loss[k]:.4f}  test accuracy {history.accuracy[k]:.1%}")
    lines.append(f"test accuracy {history.accuracy[-1]:.1%} after {history.seconds:.1f} s")
    return "\n".join(lines)


def run_grad(
    expression: str,
    wrt: str | list[str] | None,
    at: str | dict[str, float],
    max_lines: int = 200,
    *,
    dot: str | None = None,
    svg: str | None = None,
    closed_forms: bool = False,
    trace: bool = False,
) -> str:
    """The text ``graphcomp grad`` prints.

    ``wrt`` and ``at`` are the options' text (``"x,z"``, ``"x=2,z=3"``) or
    already parsed (a list of names, a dict of values). Every ``#k`` in the
    trace, the gradient graph, the picture and the warnings is one numbering
    (``gc.Numbering`` of the cost and its gradients). ``dot`` must name a
    ``.dot``/``.gv`` file, ``svg`` a ``.svg``, ``.png`` or ``.pdf`` one.

    Example:
        >>> print(run_grad("x*x", "x", "x=3", max_lines=0).splitlines()[2])
        value     y     = 9.0
    """
    names = expression_names(expression)
    values = _parse_values(at) if isinstance(at, str) else dict(at)
    missing = [n for n in names if n not in values]
    if missing:
        raise _UsageError(f"--at gives no value for {', '.join(missing)}")
    unused = [n for n in values if n not in names]
    if unused:
        raise _UsageError(f"--at gives {', '.join(unused)}, which the expression does not use")
    targets = names if wrt is None else _names(wrt) if isinstance(wrt, str) else list(wrt)
    for k, t in enumerate(targets):
        if t not in names:
            raise _UsageError(f"--wrt {t!r} does not appear in the expression")
        if t in targets[:k]:
            raise _UsageError(f"--wrt names {t} twice")
    out = _output_name(names)
    variables = {n: Variable(n) for n in names}
    y = build_expression(expression, variables)
    feed = {variables[n]: values[n] for n in names}
    for option, path, formats in (("--dot", dot, ("dot",)), ("--svg", svg, ("svg", "png", "pdf"))):
        if path is not None and output_format(path) not in formats:
            raise _UsageError(f"{option} writes {' or '.join(formats)}, not {output_format(path)}")
    result = backprop(y, [variables[t] for t in targets], trace=trace)
    grads = [result.grads[variables[t]] for t in targets]
    numbering = Numbering(result)  # one numbering for everything printed below
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NodeWarning)  # not all RuntimeWarnings: NumPy's must reach graphcomp's filter
        results = evaluate([y, *grads], feed)
    width = max(len(f"d{out}/d{t}") for t in targets) if targets else 1
    lines = [
        f"{out} = {expression}",
        "at " + ", ".join(f"{n} = {values[n]!r}" for n in names),
        f"value     {out:<{width}} = {float(results[0])!r}",
    ]
    for t, r in zip(targets, results[1:]):
        lines.append(f"gradient  {f'd{out}/d{t}':<{width}} = {float(r)!r}")
    for w in caught:
        node = getattr(w.message, "node", None)
        where = f"{numbering.describe(node)}: " if node is not None else ""
        lines.append(f"warning   {where}{getattr(w.message, 'text', w.message)}")
    if closed_forms:
        import sympy

        from graphcomp.inspect.sympy_bridge import to_sympy

        lines += ["", "closed forms (SymPy, simplified):", f"  {out} = {to_sympy(y)}"]
        symbols: dict = {}
        for t, g in zip(targets, grads):
            lines.append(f"  d{out}/d{t} = {sympy.simplify(to_sympy(g, symbols=symbols))}")
    if trace:
        lines += ["", "build_grad, step by step (Algorithm 6.6):", format_trace(result.trace, numbering)]
    if max_lines > 0:
        lines += ["", "gradient graph (" + ", ".join(f"d{out}/d{t}" for t in targets) + "):"]
        lines.append(format_graph(grads, max_lines=max_lines, numbering=numbering))
    if dot or svg:
        picture = to_dot(result, feed=feed, title=f"{out} = {expression}", numbering=numbering)
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
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # a usage error (status 2, with the usage line) or --help (0)
        return e.code if isinstance(e.code, int) else 2
    if args.command == "train":
        if args.batch_norm and args.model != "cnn":
            parser.train_parser.print_usage(sys.stderr)
            print("graphcomp train: error: --batch-norm is for --model cnn", file=sys.stderr)
            return 2
        try:
            print(run_train(args.model, args.epochs, args.seed, args.optimizer, args.dropout, args.batch_norm))
        except ImportError as e:
            print(f"graphcomp: error: {e}", file=sys.stderr)
            return 2
        return 0
    try:
        text = run_grad(
            args.expression,
            args.wrt,
            args.at,
            args.max_lines,
            dot=args.dot,
            svg=args.svg,
            closed_forms=args.sympy,
            trace=args.trace,
        )
    except _UsageError as e:  # an option that does not fit the expression
        parser.grad_parser.print_usage(sys.stderr)
        print(f"graphcomp grad: error: {e}", file=sys.stderr)
        return 2
    except (ExpressionError, GraphError, OSError) as e:
        print(f"graphcomp: error: {e}", file=sys.stderr)
        return 2
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
