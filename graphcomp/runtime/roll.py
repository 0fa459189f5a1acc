"""Loop rolling: a schedule that repeats one block of lines becomes a ``for`` loop.

An unrolled chain (``x = tanh(w[k] * x + b[k])`` for k < 10^5, and its
gradient) compiles to millions of near-identical lines, and CPython's own
``compile`` spends ~20 µs on each. A person writes the loop instead. This
module finds the loops in the schedule's structure: each step is a node, its
references are the graph's edges, its integers are its op's integer
parameters (``GetItem``'s index 7), and its template is its line with the
references and those integers left as slots (``int_slots`` asks the op for
its text with each integer marked). A block of ``p`` steps repeats when the
next block has the same templates, refers to its own values at the same
relative positions (or to the previous block's: the loop-carried values, or to
the same position of an earlier loop, through a list), and its op integers
move on by the same amount each time. The loop body is then the first block's
line with those integers written as ``a + d*_t``, so every iteration runs
exactly the code the straight-line version would have run.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import NamedTuple

from graphcomp.core.node import Variable
from graphcomp.ops.base import Op, parameter_names

__all__ = ["Step", "Loop", "Line", "LoopLine", "mark", "find_loops", "emit", "int_slots", "fill", "packed"]

#: loops shorter than this stay straight-line code
MIN_COUNT = 8
#: the longest loop body searched for, in steps
MAX_PERIOD = 256
_TRIES = 4  # candidate periods tried from one start


def mark(k: int) -> str:
    """The placeholder for a step's ``k``-th reference in its template.

    Example:
        >>> mark(1)
        '\\x011\\x02'
    """
    return f"\x01{k}\x02"


_MARK = re.compile("\x01(\\d+)\x02")
_SLOT = re.compile("\x03(\\d+)\x04")


class _Slot(int):
    """An op's integer parameter that computes as its value but prints as a slot, so
    the op's own text (its line, its label) shows where the integer goes."""

    def __new__(cls, value: int, k: int):
        slot = int.__new__(cls, value)
        slot.k = k
        return slot

    def __repr__(self) -> str:
        return f"\x03{self.k}\x04"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)


def _abstract(value, ints: list):
    """``value`` (an op parameter: an int, a tuple of them, nested) with each int
    a slot numbered in order, its value appended to ``ints``; bools stay bools."""
    if type(value) is int:
        ints.append(value)
        return _Slot(value, len(ints) - 1)
    if type(value) is tuple:
        return tuple(_abstract(v, ints) for v in value)
    return value


@functools.lru_cache(maxsize=1 << 16)  # bounded: each of 10^5 layers has its own w[k]
def int_slots(op: Op) -> tuple[Op, tuple[int, ...]]:
    r"""``op`` with every integer parameter a slot, and the integers in slot order:
    the op's text then shows where its integers go (``getitem[\x030\x04]``).

    Example:
        >>> import graphcomp as gc
        >>> skeleton, ints = int_slots(gc.Variable("w", (9,))[7].owner.op)
        >>> skeleton.label(), ints
        ('getitem[\x030\x04]', (7,))
    """
    names = parameter_names(type(op))
    if not names:
        return op, ()
    ints: list[int] = []
    changes = {n: _abstract(getattr(op, n), ints) for n in names}
    return (dataclasses.replace(op, **changes), tuple(ints)) if ints else (op, ())


def fill(template: str, numbers, refs) -> str:
    r"""``template`` with slot k written as ``numbers[k]`` and reference k as ``refs[k]``.

    Example:
        >>> fill("\x010\x02[\x030\x04]", ["(1 + _t)"], ["w"])
        'w[(1 + _t)]'
    """
    text = _SLOT.sub(lambda m: str(numbers[int(m.group(1))]), template) if "\x03" in template else template
    return _MARK.sub(lambda m: refs[int(m.group(1))], text)


class Step(NamedTuple):
    """One node's line: ``v = template`` with ``refs[k]`` at ``mark(k)`` and its op's
    integer ``ints[k]`` at slot k; ``dies`` are the values read for the last time
    here; ``label`` is its op's label, with the same slots."""

    v: Variable
    template: str
    refs: tuple
    dies: list
    ints: tuple = ()
    label: str = ""


@dataclasses.dataclass
class Loop:
    """Steps ``start .. start + period*count`` as ``count`` iterations of one block.

    ``deltas[q]`` is how much each number of the block's ``q``-th step
    (its integer literals, then the iterations of earlier loops it reads)
    moves on per iteration.
    """

    start: int
    period: int
    count: int
    deltas: list

    @property
    def stop(self) -> int:
        """The index after the loop's last step."""
        return self.start + self.period * self.count


class Line(NamedTuple):
    """A straight line's node and its arguments' texts."""

    v: Variable
    args: list

    def node(self, t=None) -> Variable:
        """The node this line computes."""
        return self.v


class LoopLine(NamedTuple):
    """A loop body's line: which node it computes at iteration ``_t`` and its
    arguments' texts (for the error that names a failing node)."""

    steps: list
    loop: Loop
    position: int
    args: list

    def node(self, t) -> Variable:
        """The node this line computes at iteration ``t``."""
        return self.steps[self.loop.start + t * self.loop.period + self.position].v


class _Finder:
    """The greedy scan: at each step, try the next few steps with the same template
    as the start of the second iteration."""

    def __init__(self, steps: list[Step], fixed: dict):
        self.steps = steps
        self.index = index = {s.v: k for k, s in enumerate(steps)}
        # per step, per reference: its step's index (-1: not a step) and its fixed name
        # ("" for a step); C-level map over two dicts, since every step pays this
        code = dict.fromkeys(fixed, -1)
        code.update(index)
        name = dict.fromkeys(index, "")
        name.update(fixed)
        self.idx = [tuple(map(code.__getitem__, s.refs)) for s in steps]
        self.names = [tuple(map(name.__getitem__, s.refs)) for s in steps]
        self.where: list = [None] * len(steps)  # (loop number, iteration, position) once rolled
        self.loops: list[Loop] = []

    def key(self, i: int, own: int | None = None) -> tuple:
        """Step ``i``'s shape (template, references relative to ``i`` or into a
        rolled loop other than ``own``) and its numbers (its op's integers, then
        rolled iterations)."""
        step = self.steps[i]
        canon = []
        nums = list(step.ints)
        where = self.where
        for name, j in zip(self.names[i], self.idx[i]):
            if j < 0:
                canon.append(name)
            elif where[j] is None or where[j][0] == own:
                canon.append(i - j)
            else:
                loop, t, q = where[j]
                canon.append((loop, q))
                nums.append(t)
        return (step.template, tuple(canon)), nums

    def repeats(self, s: int, p: int) -> tuple[int, list]:
        """How many times the block ``s .. s+p`` repeats from ``s`` on, and its deltas."""
        n = len(self.steps)
        if s + 2 * p > n:
            return 0, []
        first, deltas = [], []
        for q in range(p):
            k0, n0 = self.key(s + q)
            for c in k0[1]:
                # a reference further back than the previous iteration, or to a value of
                # the previous iteration already overwritten in this one, is not a carry
                if type(c) is int and c > q and c > p:
                    return 0, []
            k1, n1 = self.key(s + p + q)
            if k1 != k0:
                return 1, []
            first.append((k0, n0))
            deltas.append([b - a for a, b in zip(n0, n1)])
        count = 2
        while s + (count + 1) * p <= n:
            base = s + count * p
            for q in range(p):
                k, nums = self.key(base + q)
                k0, n0 = first[q]
                if k != k0 or nums and any(b != a + count * d for a, b, d in zip(n0, nums, deltas[q])):
                    return count, deltas
            count += 1
        return count, deltas

    def run(self, min_count: int) -> list[Loop]:
        """Scan the steps once, rolling each repeated block found."""
        i, n = 0, len(self.steps)
        steps, names = self.steps, self.names
        coarse_next: dict = {}
        self.next_same = [-1] * n  # the next step with the same template and the same fixed references
        for k in range(n - 1, -1, -1):
            c = (steps[k].template, names[k])
            self.next_same[k] = coarse_next.get(c, -1)
            coarse_next[c] = k
        while i < n:
            j, tries, found = self.next_same[i], 0, None
            while j != -1 and j - i <= MAX_PERIOD and tries < _TRIES:
                count, deltas = self.repeats(i, j - i)
                if count >= min_count:
                    found = Loop(i, j - i, count, deltas)
                    break
                j, tries = self.next_same[j], tries + 1
            if found is None:
                i += 1
                continue
            number = len(self.loops)
            self.loops.append(found)
            for t in range(found.count):
                base = found.start + t * found.period
                for q in range(found.period):
                    self.where[base + q] = (number, t, q)
            i = found.stop
        return self.loops


def find_loops(steps: list[Step], fixed: dict, min_count: int = MIN_COUNT) -> tuple[list[Loop], list]:
    """The loops in ``steps`` and, for each step, ``(loop, iteration, position)`` or None.

    ``fixed`` names the values that are not steps (inputs, constants, Parameters).

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (3,))
        >>> ys = [x]
        >>> for k in range(10):
        ...     ys.append(gc.tanh(ys[-1]))
        >>> steps = [Step(y, f"_tanh({mark(0)})", y.owner.inputs, []) for y in ys[1:]]
        >>> loops, where = find_loops(steps, {x: "x"})
        >>> [(lp.start, lp.period, lp.count) for lp in loops]
        [(1, 1, 9)]
    """
    finder = _Finder(steps, fixed)
    return finder.run(min_count), finder.where


@dataclasses.dataclass
class _Text:
    """Names the values of the emitted code and remembers which lists are read."""

    steps: list
    fixed: dict
    index: dict
    loops: list
    where: list
    lists: dict = dataclasses.field(default_factory=dict)  # (loop, q) -> last item reading it

    def straight(self, j: int, item: int) -> str:
        """Step ``j``'s value, read outside any loop."""
        w = self.where[j]
        if w is None:
            return f"_v{self.steps[j].v.id}"
        loop, t, q = w
        if t == self.loops[loop].count - 1:
            return f"_l{loop}_{q}"  # a loop's names keep its last iteration's values
        self.lists[(loop, q)] = item
        return f"_s{loop}_{q}[{t}]"

    def of(self, v: Variable, item: int) -> str:
        """Any value's text outside loops: an input, a constant or a step."""
        name = self.fixed.get(v)
        return name if name is not None else self.straight(self.index[v], item)

    def freed(self, v: Variable) -> str | None:
        """The name to ``del`` when ``v`` dies, or None (inputs, constants, list entries)."""
        j = self.index.get(v)
        if j is None:
            return None
        w = self.where[j]
        if w is None:
            return f"_v{v.id}"
        loop, t, q = w
        return f"_l{loop}_{q}" if t == self.loops[loop].count - 1 else None


def _number(a: int, d: int) -> str:
    if d == 0:
        return str(a)
    step = "_t" if abs(d) == 1 else f"{abs(d)}*_t"
    if a == 0 and d > 0:
        return step
    return f"({a} {'+' if d > 0 else '-'} {step})"


_CALL = re.compile("\\w+\\((?:\x01\\d+\x02(?:, )?)*\\)")
_SUM = re.compile("\x01\\d+\x02(?: \\+ \x01\\d+\x02)*")
_ENTRY = re.compile(r"(_s\d+_\d+)\[(\d+)\]")

#: the most arguments (or names to ``del``) one generated line holds: a sum, stack or
#: concatenate of 10^4 terms becomes lines of this many, as CPython's compiler recurses
#: once per ``+`` and no line should grow with the graph
CHUNK = 64


def packed(args: list[str]) -> list[str]:
    """Runs of entries of one list, in order or reversed, as one starred slice
    (a sum or stack of 10^5 per-layer terms is then one short line).

    Example:
        >>> packed(["a", "_s0_1[2]", "_s0_1[3]", "_s0_1[4]"])
        ['a', '*_s0_1[2:5]']
    """
    out: list[str] = []
    k = 0
    while k < len(args):
        m = _ENTRY.fullmatch(args[k])
        end = k + 1
        if m is not None:
            name, first = m.group(1), int(m.group(2))
            step = 0
            while end < len(args):
                m2 = _ENTRY.fullmatch(args[end])
                if m2 is None or m2.group(1) != name:
                    break
                d = int(m2.group(2)) - int(_ENTRY.fullmatch(args[end - 1]).group(2))
                if d not in (1, -1) or (step and d != step):
                    break
                step, end = d, end + 1
        if end - k < 3:
            out.append(args[k])
            k += 1
            continue
        last = first + step * (end - k - 1)
        stop = "" if step < 0 and last == 0 else last + step
        out.append(f"*{name}[{first}:{stop}]" if step > 0 else f"*{name}[{first}:{stop}:-1]")
        k = end
    return out


def comment_of(steps: list, loop: Loop, q: int, comment, args: list[str]) -> str:
    """A body line's comment: the first iteration's, its moving numbers as in the code."""
    step = steps[loop.start + q]
    numbers = [_number(a, d) for a, d in zip(step.ints, loop.deltas[q])]
    return comment(step.v, args, fill(step.label, numbers, ()))


def emit(steps: list[Step], fixed: dict, outputs: list[Variable], comment, *, roll: bool, free: bool = True):
    """The body of the generated function as ``(lines, outputs' texts)``.

    Each line is ``(text, info)``; ``info`` is the node a straight line computes,
    a ``LoopLine`` for a loop body's line, or None. ``comment(v, args, label)``
    gives the comment above a node's line. With ``roll`` the repeated blocks become
    loops; ``free`` adds the ``del`` of each value after its last use.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x"); y = gc.exp(x)
        >>> lines, outs = emit([Step(y, f"_exp({mark(0)})", (x,), [], (), "exp")], {x: "x"}, [y],
        ...                    lambda v, a, label: "# " + label, roll=False)
        >>> [text for text, _ in lines], outs
        (['# exp', '_v... = _exp(x)'], ['_v...'])
    """
    finder = _Finder(steps, fixed)
    loops = finder.run(MIN_COUNT) if roll else []
    text = _Text(steps, fixed, finder.index, loops, finder.where)
    items: list[list] = []  # each item: its lines; a list's del goes after the last item reading it
    stores: list[tuple] = []  # (item, loop number, body lines, positions of body lines)
    k = 0
    by_start = {lp.start: number for number, lp in enumerate(loops)}
    while k < len(steps):
        number = by_start.get(k)
        if number is None:
            items.append(_straight_lines(steps[k], text, len(items), comment, free))
            k += 1
            continue
        loop = loops[number]
        lines, body = _loop_lines(number, loop, finder, text, len(items), comment, free)
        stores.append((len(items), number, body))
        items.append(lines)
        k = loop.stop
    outs = [text.of(o, len(items)) for o in outputs]
    for item, number, body in stores:  # now every reader is known: store what later code reads
        lines = items[item]
        for pos in sorted(body, reverse=True):
            q = body[pos]
            if (number, q) in text.lists:
                lines.insert(pos + 1, (f"    _s{number}_{q}[_t] = _l{number}_{q}", None))
        allocs = [
            (f"_s{number}_{q} = [None] * {loops[number].count}", None)
            for q in range(loops[number].period)
            if (number, q) in text.lists
        ]
        items[item] = allocs + lines
    last: dict[int, list[str]] = {}
    for (number, q), item in text.lists.items():
        last.setdefault(item, []).append(f"_s{number}_{q}")
    out: list[tuple] = []
    for k, lines in enumerate(items):
        out += lines
        if free and k in last:
            out.append((f"del {', '.join(sorted(last[k]))}", None))
    return out, outs


def _straight_lines(step: Step, text: _Text, item: int, comment, free: bool) -> list[tuple]:
    args = [text.of(r, item) for r in step.refs]
    name = text.straight(text.index[step.v], item)
    line = Line(step.v, args)
    if len(args) > 2 and _CALL.fullmatch(step.template):
        code = _chunked_call(name, step.template[: step.template.index("(")], packed(args))
    elif len(args) > CHUNK and _SUM.fullmatch(step.template):
        code = _chunked_sum(name, args)
    else:
        code = [f"{name} = {fill(step.template, step.ints, args)}"]
    lines = [(comment(step.v, args, fill(step.label, step.ints, ())), None)] + [(c, line) for c in code]
    if free:
        dead = [n for n in (text.freed(d) for d in step.dies) if n is not None]
        lines += [(f"del {', '.join(dead[k : k + CHUNK])}", None) for k in range(0, len(dead), CHUNK)]
    return lines


def _chunked_call(name: str, fn: str, args: list[str]) -> list[str]:
    """``name = fn(*args)``, the arguments gathered ``CHUNK`` to a line when there are
    more (the call itself is the same, so its result is too).

    Example:
        >>> _chunked_call("_v9", "_stack", ["a", "b"])
        ['_v9 = _stack(a, b)']
        >>> len(_chunked_call("_v9", "_stack", [f"a{k}" for k in range(200)]))  # 4 lists, call, del
        6
    """
    if len(args) <= CHUNK:
        return [f"{name} = {fn}({', '.join(args)})"]
    held = f"{name}_args"
    lines = [f"{held} = [{', '.join(args[:CHUNK])}]"]
    lines += [f"{held} += [{', '.join(args[k : k + CHUNK])}]" for k in range(CHUNK, len(args), CHUNK)]
    return lines + [f"{name} = {fn}(*{held})", f"del {held}"]


def _chunked_sum(name: str, args: list[str]) -> list[str]:
    """``name = a0 + a1 + ...`` as running sums of ``CHUNK`` terms a line, added left to
    right as the one long line would (the same roundings, so the same result).

    Example:
        >>> _chunked_sum("_v9", [f"a{k}" for k in range(130)])[1][:22]
        '_v9 = _v9 + a64 + a65 '
    """
    lines = [f"{name} = {' + '.join(args[:CHUNK])}"]
    return lines + [f"{name} = {name} + {' + '.join(args[k : k + CHUNK])}" for k in range(CHUNK, len(args), CHUNK)]


def _loop_lines(number: int, loop: Loop, finder: _Finder, text: _Text, item: int, comment, free: bool):
    """The loop's lines (body indented), and which line holds each body position."""
    s, p, steps = loop.start, loop.period, finder.steps
    head: list[tuple] = []
    body: list[tuple] = []
    positions: dict[int, int] = {}
    for q in range(p):
        (template, canon), nums = finder.key(s + q, own=number)  # as the scan read it
        deltas = loop.deltas[q]
        n_ints = len(steps[s + q].ints)
        ints = [_number(a, d) for a, d in zip(nums[:n_ints], deltas[:n_ints])]
        moving = iter(zip(nums[n_ints:], deltas[n_ints:]))
        args = []
        for c in canon:
            if isinstance(c, str):
                args.append(c)
            elif isinstance(c, int):
                j = q - c
                if j < 0:  # the previous iteration's value; the first iteration reads it from before the loop
                    j += p
                    head.append((f"_l{number}_{j} = {text.straight(s + q - c, item)}", None))
                args.append(f"_l{number}_{j}")
            else:
                other, pos = c
                t0, d = next(moving)
                if d == 0 and t0 == text.loops[other].count - 1:
                    args.append(f"_l{other}_{pos}")
                else:
                    text.lists[(other, pos)] = item
                    args.append(f"_s{other}_{pos}[{_number(t0, d)}]")
        body.append(("    " + comment_of(steps, loop, q, comment, args), None))
        positions[len(body)] = q  # the store of position q goes after this line
        body.append((f"    _l{number}_{q} = {fill(template, ints, args)}", LoopLine(steps, loop, q, args)))
    head = list(dict.fromkeys(head))  # two readers of one carried value initialise it once
    what = f"# {loop.count} iterations of the {p} node(s) below, one iteration per repetition in the graph"
    lines = head + [(what, None), (f"for _t in range({loop.count}):", None)] + body
    offset = len(head) + 2
    body_at = {offset + at: q for at, q in positions.items()}
    if free:
        dead, inside, stop, index = [], set(), loop.stop, text.index
        for k in range(s, stop):
            for d in steps[k].dies:
                j = index.get(d)
                if j is not None and s <= j < stop:
                    inside.add(d)  # a value of this loop: its name is rebound each iteration
                    continue
                name = text.freed(d)
                if name is not None:
                    dead.append(name)
        last = loop.stop - p
        for q in range(p):  # the last iteration's values nothing after the loop reads
            if steps[last + q].v in inside:
                dead.append(f"_l{number}_{q}")
        if dead:
            lines.append((f"del {', '.join(dict.fromkeys(dead))}", None))
    return lines, body_at
