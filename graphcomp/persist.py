"""``gc.save`` / ``gc.load``: graphs on disk, in a documented, versioned format.

A saved graph is one zip file holding three members:

- ``manifest.json``: ``{"format": "graphcomp", "version": 1, "sha256": {member: digest}}``
- ``graph.json``: the nodes in topological order. Each node is
  ``{"id", "kind": "input"|"constant"|"op", "name", "shape", "dtype",
  "site": [file, line], "grad_of": id or null, "role"}`` plus, for op nodes,
  ``"op": {"name", "params"}`` and ``"inputs": [ids]``; and ``"outputs": [ids]``
  with ``"single"`` (was one Variable saved, or a list); and, where op_from_graph
  groups were saved, ``"subgraphs"``: their inner graphs, each ``{"nodes",
  "inputs": [ids], "output": id}`` in the same node format, a group inside a
  group listed before it. A group's op parameters are ``{"subgraph": k}`` (its
  inner graph) and ``{"bprop": {"name", "qualname"}}`` (a custom gradient).
  A loop's body (``gc.scan``) is stored in the same list as an inner graph
  with ``"body": {"carry_in", "x_in", "captured", "carry_out", "ys": [ids],
  "index": id or null, "carry_names", "y_names", "ys_like", "n_user_ys"}``, and
  its loop's op parameters say ``{"body": k}``; a loop that keeps values for a
  gradient names the loop it copies ``{"loop": id}`` (a node of the same graph),
  and a backward loop the loop it differentiates, ``{"gradient": {"of": id or
  null, "kept": n, "checkpoint": bool}}``.
- ``constants.npz``: each constant's array (and each Parameter's current
  value) under ``c<id>`` (``s<k>c<id>`` inside subgraph k), written and read
  with ``allow_pickle=False``.

A custom gradient (``gc.op_from_graph(..., bprop=)``) is code, which the file
never holds: it is saved by its group's name, and ``load`` takes the custom
gradient this process has defined under that name (by calling
``gc.op_from_graph`` with that ``bprop`` and ``name``), refusing the file with
a ``gc.LoadError`` that says so when there is none, or when it is another
function. Files with loops are format version 3, with op_from_graph groups 2;
others stay 1. A loaded loop runs and differentiates as the saved one; a loaded
backward loop keeps which loop it differentiates but not the record of
build_grad on the body (its trace and grad_table: differentiate the loaded
loop again to see them).

Loading never runs code from the file: no pickle, no ``eval``; op names are
looked up in graphcomp's own op registry, parameters are plain JSON, SymPy
expressions (of ``gc.elementwise`` ops) are rebuilt from a whitelist of SymPy
classes, and every op node is rebuilt through its op, whose shape inference
must agree with the stored shape and dtype. A truncated, edited or
newer-version file is refused with a ``gc.LoadError``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
import os
import sys
import zipfile
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from graphcomp.core import collector, provenance
from graphcomp.core.node import Parameter, Variable, constant
from graphcomp.core.site import Site
from graphcomp.core.traverse import ancestors, as_variable_list, topological
from graphcomp.errors import ArgumentError, GraphError
from graphcomp.ops.base import REGISTRY
from graphcomp.ops.composite import CUSTOM_GRADIENTS, CustomGradient, Subgraph
from graphcomp.ops.loops.body import Body
from graphcomp.ops.loops.op import PACKED, GradientInfo, Scan

__all__ = ["save", "load", "LoadError", "FORMAT_VERSION"]

if TYPE_CHECKING:  # SymPy is imported only to store or load a SymPy-defined op
    import sympy as sp

FORMAT_VERSION = 3  # the newest this reads and writes: 3 with loops, 2 with op_from_graph groups, else 1
_MEMBERS = ("manifest.json", "graph.json", "constants.npz")


class LoadError(GraphError, ValueError):
    """A file is not a graph this version of graphcomp can load."""


# -- parameters: plain JSON, tagged where JSON has no type ----------------------------------------


@functools.cache
def _sympy_calls() -> dict:
    """The SymPy functions a stored expression may call, by name (imports SymPy)."""
    import sympy as sp

    return {
        cls.__name__: cls
        for cls in (
            sp.Add,
            sp.Mul,
            sp.Pow,
            sp.exp,
            sp.log,
            sp.sin,
            sp.cos,
            sp.tan,
            sp.tanh,
            sp.sqrt,
            sp.Abs,
            sp.sign,
            sp.Max,
            sp.Min,
            sp.asin,
            sp.acos,
            sp.atan,
            sp.sinh,
            sp.cosh,
            sp.erf,
        )  # fmt: skip
    }


def _encode_sympy(e: sp.Basic):
    import sympy as sp

    if e.is_Symbol:
        return {"symbol": e.name}
    if e.is_Integer:
        return {"integer": str(e)}
    if e.is_Rational:
        return {"rational": [str(e.p), str(e.q)]}
    if e.is_Float:
        return {"float": float(e)}
    if e in (sp.pi, sp.E):
        return {"const": str(e)}
    name = type(e).__name__
    if name not in _sympy_calls():
        raise ArgumentError(f"save: the SymPy function {name} is not supported in saved graphs")
    return {"call": name, "args": [_encode_sympy(a) for a in e.args]}


def _decode_sympy(d) -> sp.Basic:
    import sympy as sp

    if not isinstance(d, dict) or len(d) not in (1, 2):
        raise LoadError("load: a SymPy expression in the file is malformed")
    if "symbol" in d:
        return sp.Symbol(str(d["symbol"]))
    if "integer" in d:
        return sp.Integer(int(d["integer"]))
    if "rational" in d:
        p, q = d["rational"]
        return sp.Rational(int(p), int(q))
    if "float" in d:
        return sp.Float(float(d["float"]))
    if "const" in d:
        return {"pi": sp.pi, "E": sp.E}[d["const"]]
    fn = _sympy_calls().get(d.get("call"))
    if fn is None:
        raise LoadError(f"load: unknown SymPy function {d.get('call')!r}")
    return fn(*[_decode_sympy(a) for a in d["args"]])


class _Saving:
    """What one ``save`` collects besides the nodes: constant arrays, and the inner
    graphs of op_from_graph groups (each stored once, however many nodes use it)."""

    def __init__(self):
        self.arrays: dict = {}
        self.subgraphs: list[dict] = []
        self.numbers: dict[int, int] = {}  # id(Subgraph) -> its position in subgraphs
        self.started = 0
        self.version = 1
        self.loops: dict[int, int] = {}  # id(a loop's op) -> its node's id, in the graph being written

    def level(self, order: list[Variable], index: dict) -> dict[int, int]:
        """Start writing one graph (the outer one, or an inner one): the loops it holds,
        which its loops may name (a value-keeping copy names its loop); returns the
        previous graph's, to restore when this one is done."""
        before = self.loops
        self.loops = {id(v.op): index[v] for v in order if v.owner is not None and isinstance(v.op, Scan)}
        return before

    def body(self, b: Body) -> int:
        k = self.numbers.get(id(b))
        if k is None:
            # nested loops (and groups) are encoded and listed first; the recursion is bounded
            # by the nesting the user wrote, not by the graph's size
            order = b.nodes()
            index = {v: j for j, v in enumerate(order)}
            prefix = f"s{self.started}"
            self.started += 1
            before = self.level(order, index)
            nodes = [self.node(v, index, prefix) for v in order]
            self.loops = before
            ids = lambda vs: [index[v] for v in vs]  # noqa: E731
            record = {
                "carry_in": ids(b.carry_in), "x_in": ids(b.x_in), "captured": ids(b.captured),
                "index": None if b.index is None else index[b.index], "carry_out": ids(b.carry_out), "ys": ids(b.ys),
                "carry_names": list(b.carry_names), "y_names": list(b.y_names), "ys_like": list(b.ys_like),
                "n_user_ys": b.n_user_ys,
            }  # fmt: skip
            k = self.numbers[id(b)] = len(self.subgraphs)
            self.subgraphs.append({"nodes": nodes, "prefix": prefix, "body": record})
            self.version = 3
        return k

    def subgraph(self, sub: Subgraph) -> int:
        k = self.numbers.get(id(sub))
        if k is None:
            # nested groups are encoded (and listed) first: the nesting is shallow, a user's
            # group inside a group, so this recursion is bounded by it, not by the graph's size
            order = topological(ancestors([sub.output, *sub.inputs]))
            index = {v: j for j, v in enumerate(order)}
            prefix = f"s{self.started}"  # its constants' keys; unique, though the list is in post-order
            self.started += 1
            nodes = [self.node(v, index, prefix) for v in order]
            k = self.numbers[id(sub)] = len(self.subgraphs)
            inputs = [index[i] for i in sub.inputs]
            self.subgraphs.append({"nodes": nodes, "inputs": inputs, "output": index[sub.output], "prefix": prefix})
            self.version = max(self.version, 2)
        return k

    def node(self, v: Variable, index: dict, prefix: str = "") -> dict:
        if v.kind in ("constant", "parameter"):  # a Parameter is saved with its current value
            self.arrays[f"{prefix}c{index[v]}"] = v.value
        return _node_record(v, index, self)


def _encode(value, saving: _Saving | None = None):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, tuple):
        return {"tuple": [_encode(v, saving) for v in value]}
    if isinstance(value, Subgraph) and saving is not None:
        return {"subgraph": saving.subgraph(value)}
    if isinstance(value, CustomGradient) and saving is not None:
        saving.version = max(saving.version, 2)
        return {"bprop": {"name": value.name, "qualname": value.qualname}}
    if isinstance(value, Body) and saving is not None:
        return {"body": saving.body(value)}
    if isinstance(value, Scan) and saving is not None:  # the loop a value-keeping copy extends
        k = saving.loops.get(id(value))
        return None if k is None else {"loop": k}  # not saved with it: the copy is then a loop of its own
    if isinstance(value, GradientInfo) and saving is not None:
        of = saving.loops.get(id(value.forward))
        return {"gradient": {"of": of, "kept": len(value.kept), "checkpoint": bool(value.checkpoint)}}
    if isinstance(value, np.dtype):
        return {"dtype": value.str}
    sp = sys.modules.get("sympy")  # without SymPy imported, no value is a SymPy expression
    if sp is not None and isinstance(value, sp.Basic):
        return {"sympy": _encode_sympy(value)}
    raise ArgumentError(f"save: cannot store a parameter of type {type(value).__name__}")


def _decode(value, subgraphs: list | None = None, built: list | None = None):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((tag, inner),) = value.items()
        if tag == "tuple" and isinstance(inner, list):
            return tuple(_decode(v, subgraphs, built) for v in inner)
        if tag == "body" and isinstance(inner, int) and subgraphs is not None and 0 <= inner < len(subgraphs):
            if isinstance(subgraphs[inner], Body):
                return subgraphs[inner]
        if tag == "loop" and built is not None:
            return _loop_op(inner, built).op
        if tag == "gradient" and isinstance(inner, dict) and built is not None:
            return _gradient_info(inner, built)
        if tag == "dtype" and isinstance(inner, str):
            return _dtype(inner)
        if tag == "sympy":
            return _decode_sympy(inner)
        if tag == "subgraph" and isinstance(inner, int) and subgraphs is not None and 0 <= inner < len(subgraphs):
            if isinstance(subgraphs[inner], Subgraph):
                return subgraphs[inner]
        if tag == "bprop" and isinstance(inner, dict):
            return _custom_gradient(inner)
    raise LoadError(f"load: a parameter in the file is malformed: {value!r}"[:200])


def _loop_op(k, built: list) -> Variable:
    """The loop node ``k`` of the graph being read (named by a loop that refers to it)."""
    if not isinstance(k, int) or not 0 <= k < len(built) or not isinstance(built[k].op, Scan):
        raise LoadError(f"load: a loop refers to node {k!r}, which is not a loop read before it")
    return built[k]


def _gradient_info(saved: dict, built: list) -> GradientInfo:
    """What a backward loop was built from, as far as a file keeps it: the loop it
    differentiates (None when that was not saved), how many values it reads that the
    forward loop kept, and whether only carries were kept. The body's back-propagation
    itself (trace, grad_table) is not saved."""
    of, kept, checkpoint = saved.get("of"), saved.get("kept"), saved.get("checkpoint")
    if not isinstance(kept, int) or kept < 0 or not isinstance(checkpoint, bool):
        raise LoadError(f"load: a backward loop's record is malformed: {saved!r}"[:200])
    forward = None if of is None else _loop_op(of, built).op
    return GradientInfo(forward, None, (None,) * kept, checkpoint)


def _custom_gradient(saved: dict) -> CustomGradient:
    """The custom gradient this process defined under the saved group's name."""
    name, qualname = str(saved.get("name")), str(saved.get("qualname"))
    found = CUSTOM_GRADIENTS.get(name)
    how = f"gc.op_from_graph(fn, bprop={qualname.rsplit('.', 1)[-1]}, name={name!r})"
    if found is None:
        raise LoadError(
            f"load: the op_from_graph group {name!r} has a custom gradient ({qualname}), which is code and is not "
            f"saved; define it in this process first ({how}, as the code that built the graph does), then load"
        )
    if found.qualname != qualname:
        raise LoadError(
            f"load: the op_from_graph group {name!r} was saved with the custom gradient {qualname}, but this "
            f"process defined {found.qualname} under that name; define {how} before loading"
        )
    return found


def _node_dtype(text: str, v: Variable) -> np.dtype:
    """The dtype a node's record says; a loop's packed value (its outputs at once,
    dtype object) is the one non-numeric value allowed, and only for a loop node."""
    if text == PACKED.str and v.owner is not None and type(v.op).multiple_outputs:
        return PACKED
    return _dtype(text)


def _dtype(text: str) -> np.dtype:
    try:
        dt = np.dtype(text)
    except TypeError:
        raise LoadError(f"load: unknown dtype {text!r}") from None
    if dt.kind not in "biufc":
        raise LoadError(f"load: dtype {text!r} is not allowed in a saved graph")
    return dt


# -- save ---------------------------------------------------------------------------------------------------


def save(outputs: Variable | Sequence[Variable], path) -> str:
    """Write the graph of ``outputs`` (gradient nodes, names, shapes and all) to ``path``
    (a file name or an open binary file). Raises ``gc.ArgumentError`` naming save for
    ``outputs`` that are not Variables or a ``path`` that is neither.

    Example:
        >>> import graphcomp as gc, tempfile, os
        >>> x = gc.Variable("x")
        >>> y = gc.sin(x) * 2.0
        >>> p = gc.save([y, gc.grad(y, x)], os.path.join(tempfile.mkdtemp(), "g.gcz"))
        >>> y2, dy2 = gc.load(p)
        >>> float(gc.evaluate(dy2, {"x": 0.0}))
        2.0
    """
    outs, single = as_variable_list(outputs, "save: outputs")
    _check_path(path, "save")
    saving = _Saving()
    with collector.paused():
        order = topological(ancestors(outs))
        index = {v: k for k, v in enumerate(order)}
        saving.level(order, index)
        nodes = [saving.node(v, index) for v in order]
        graph = {"nodes": nodes, "outputs": [index[o] for o in outs], "single": single}
        if saving.subgraphs:
            graph["subgraphs"] = saving.subgraphs
    graph_bytes = json.dumps(graph, separators=(",", ":")).encode()
    buf = io.BytesIO()
    np.savez(buf, **saving.arrays)
    const_bytes = buf.getvalue()
    manifest = {
        "format": "graphcomp",
        "version": saving.version,
        "sha256": {
            "graph.json": hashlib.sha256(graph_bytes).hexdigest(),
            "constants.npz": hashlib.sha256(const_bytes).hexdigest(),
        },
    }
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.json", json.dumps(manifest, indent=1))
        z.writestr("graph.json", graph_bytes)
        z.writestr("constants.npz", const_bytes)
    return str(path)


def _node_record(v: Variable, index: dict, saving: _Saving) -> dict:
    rec = {
        "id": index[v],
        "kind": v.kind,
        "name": v.name,
        "shape": list(v.shape),
        "dtype": v.dtype.str,
        "site": [str(v.site[0]), int(v.site[1])],
        "role": v.role,
        "grad_of": index.get(v.grad_of) if v.grad_of is not None else None,
    }
    if v.owner is not None:
        op = v.owner.op
        if REGISTRY.get(op.name) is not type(op):
            raise ArgumentError(
                f"save: {op.label()} (built at {v.site}) is not one of graphcomp's ops and cannot be saved"
            )
        rec["op"] = {
            "name": op.name,
            "params": {f.name: _encode(getattr(op, f.name), saving) for f in dataclasses.fields(op)},
        }
        rec["inputs"] = [index[i] for i in v.owner.inputs]
    return rec


# -- load ---------------------------------------------------------------------------------------------------

# a stand-in for the node whose bprop made a saved gradient node, when that
# node itself was not saved (it was not an ancestor of the outputs)
_UNSAVED = object()


def load(path):
    """Read a graph written by ``gc.save``; returns its outputs as they were saved.

    Raises ``gc.LoadError`` for a file that is not a graphcomp graph (damaged,
    newer, changed), one that is also a ``FileNotFoundError`` where there is no
    file, and ``gc.ArgumentError`` for a path that is not a file name or file.

    Example:
        >>> import graphcomp as gc, tempfile, os
        >>> p = gc.save(gc.Variable("x", (None, 2)).sum(axis=1), os.path.join(tempfile.mkdtemp(), "g.gcz"))
        >>> gc.load(p).shape
        (None,)
    """
    manifest, graph_bytes, const_bytes = _read_members(path)
    try:
        graph = json.loads(graph_bytes)
        arrays = dict(np.load(io.BytesIO(const_bytes), allow_pickle=False))
    except (ValueError, OSError) as e:
        raise LoadError(f"load: {path} is damaged: {e}") from None
    try:
        with collector.paused():
            return _rebuild(graph, arrays)
    except LoadError:
        raise
    except (GraphError, KeyError, IndexError, TypeError, ValueError) as e:
        raise LoadError(f"load: {path} does not describe a valid graph: {e}") from None


class NoSuchFileError(LoadError, FileNotFoundError):
    """``gc.load`` was given a path where there is no file: a LoadError, and the
    FileNotFoundError Python raises for one."""

    def __str__(self) -> str:  # the message, not OSError's "[Errno 2] ..." from its fields
        return str(self.args[0])


def _check_path(path, who: str) -> None:
    """A file name (str or os.PathLike) or an open binary file, else an ArgumentError naming ``who``."""
    if isinstance(path, (str, os.PathLike)):
        return
    if callable(getattr(path, "write" if who == "save" else "read", None)):
        return
    raise ArgumentError(f"{who}: path must be a file name (a str or os.PathLike) or an open binary file, "
                        f"got {path!r}"[:300])  # fmt: skip


def _read_members(path):
    _check_path(path, "load")
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if not set(_MEMBERS) <= names:
                raise LoadError(f"load: {path} is not a graphcomp file (members {sorted(names)})")
            manifest = json.loads(z.read("manifest.json"))
            graph_bytes = z.read("graph.json")
            const_bytes = z.read("constants.npz")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, KeyError, ValueError) as e:
        raise LoadError(f"load: {path} is not a readable graphcomp file (truncated or damaged: {e})") from None
    except FileNotFoundError as e:
        missing = NoSuchFileError(f"load: there is no file {str(path)!r}")
        missing.errno, missing.filename = e.errno, e.filename
        raise missing from None
    if not isinstance(manifest, dict) or manifest.get("format") != "graphcomp":
        raise LoadError(f"load: {path} is not a graphcomp file")
    version = manifest.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise LoadError(
            f"load: {path} was written in format version {version!r}, newer than this graphcomp "
            f"reads ({FORMAT_VERSION}); upgrade graphcomp"
        )
    digests = manifest.get("sha256", {})
    for member, data in (("graph.json", graph_bytes), ("constants.npz", const_bytes)):
        if digests.get(member) != hashlib.sha256(data).hexdigest():
            raise LoadError(f"load: {path} was changed after it was saved ({member} does not match its checksum)")
    return manifest, graph_bytes, const_bytes


def _rebuild(graph: dict, arrays: dict):
    subgraphs: list = []
    for k, sub in enumerate(graph.get("subgraphs", [])):  # inner graphs first, nested ones before their group
        prefix = sub["prefix"]
        if not (isinstance(prefix, str) and prefix[:1] == "s" and prefix[1:].isdigit()):
            raise LoadError(f"load: subgraph {k} is malformed")
        nodes = _rebuild_nodes(sub["nodes"], arrays, prefix, subgraphs)
        if "body" in sub:
            subgraphs.append(_rebuild_body(k, sub["body"], nodes))
            continue
        inputs = tuple(nodes[i] for i in sub["inputs"])
        if any(not v.is_input for v in inputs):
            raise LoadError(f"load: subgraph {k} lists an input that is not an input node")
        subgraphs.append(Subgraph(inputs, nodes[sub["output"]]))
    built = _rebuild_nodes(graph["nodes"], arrays, "", subgraphs)
    outs = [built[i] for i in graph["outputs"]]
    return outs[0] if graph.get("single") else outs


def _rebuild_body(k: int, rec: dict, nodes: list[Variable]) -> Body:
    """A loop's body from its record, its nodes already rebuilt."""

    def pick(key, placeholders=False) -> list[Variable]:
        ids = rec[key]
        if not isinstance(ids, list) or not all(isinstance(i, int) and 0 <= i < len(nodes) for i in ids):
            raise LoadError(f"load: loop body {k} has a malformed {key!r}")
        vs = [nodes[i] for i in ids]
        if placeholders and any(not v.is_input for v in vs):
            raise LoadError(f"load: loop body {k} lists in {key!r} a node that is not a placeholder")
        return vs

    def texts(key) -> list[str]:
        names = rec[key]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise LoadError(f"load: loop body {k} has a malformed {key!r}")
        return names

    index = rec["index"]
    if index is not None:
        index = _placeholder(k, index, nodes)
    like = rec["ys_like"]
    n_user = rec["n_user_ys"]
    if not isinstance(like, list) or not all(i is None or isinstance(i, int) for i in like):
        raise LoadError(f"load: loop body {k} has a malformed 'ys_like'")
    if not isinstance(n_user, int):
        raise LoadError(f"load: loop body {k} has a malformed 'n_user_ys'")
    return Body(pick("carry_in", True), pick("x_in", True), pick("captured", True), index, pick("carry_out"),
                pick("ys"), carry_names=texts("carry_names"), y_names=texts("y_names"), ys_like=like,
                n_user_ys=n_user)  # fmt: skip


def _placeholder(k: int, i, nodes: list[Variable]) -> Variable:
    if not isinstance(i, int) or not 0 <= i < len(nodes) or not nodes[i].is_input:
        raise LoadError(f"load: loop body {k} names a step number that is not a placeholder")
    return nodes[i]


def _rebuild_nodes(records: list, arrays: dict, prefix: str, subgraphs: list) -> list[Variable]:
    built: list[Variable] = []
    stand_in = Variable("(not saved)")
    for k, rec in enumerate(records):
        if rec["id"] != k:
            raise LoadError(f"load: node {k} is out of order")
        grad_of = rec.get("grad_of")
        owner = built[grad_of] if isinstance(grad_of, int) and 0 <= grad_of < k else None
        role = rec.get("role", "forward")
        if role not in provenance.ROLES:
            raise LoadError(f"load: node {k} has the unknown role {role!r}; the roles are {list(provenance.ROLES)}")
        if role == "grad" and owner is None:
            owner = stand_in
        with provenance.building(Site((str(rec["site"][0]), int(rec["site"][1]))), owner, role):
            v = _rebuild_node(rec, built, arrays, prefix, subgraphs)
        shape = tuple(None if d is None else int(d) for d in rec["shape"])
        if v.shape != shape or v.dtype != _node_dtype(rec["dtype"], v):
            raise LoadError(
                f"load: node {k} ({rec.get('op', {}).get('name', rec['kind'])}) has shape {v.shape} {v.dtype} "
                f"when rebuilt, but the file says {shape} {rec['dtype']}"
            )
        built.append(v)
    return built


def _rebuild_node(rec: dict, built: list, arrays: dict, prefix: str, subgraphs: list) -> Variable:
    kind = rec["kind"]
    if kind == "input":
        return Variable(str(rec["name"]), tuple(rec["shape"]), _dtype(rec["dtype"]))
    if kind == "constant":
        return constant(arrays[f"{prefix}c{rec['id']}"], name=rec["name"])
    if kind == "parameter":
        return Parameter(arrays[f"{prefix}c{rec['id']}"], name=rec["name"])
    if kind != "op":
        raise LoadError(f"load: unknown node kind {kind!r}")
    cls = REGISTRY.get(rec["op"]["name"])
    if cls is None:
        raise LoadError(f"load: unknown op {rec['op']['name']!r}")
    params = {key: _decode(val, subgraphs, built) for key, val in rec["op"]["params"].items()}
    info, body = params.get("gradient"), params.get("body")
    if isinstance(info, GradientInfo) and isinstance(body, Body):  # the kept values, as the body reads them
        params["gradient"] = dataclasses.replace(info, kept=body.x_in[: len(info.kept)])
    inputs = [built[i] for i in rec["inputs"] if isinstance(i, int) and 0 <= i < len(built)]
    if len(inputs) != len(rec["inputs"]):
        raise LoadError(f"load: node {rec['id']} reads a node that comes after it")
    out = cls(**params)(*inputs)
    if rec["name"] is not None:
        out = _renamed(out, str(rec["name"]))
    return out


def _renamed(v: Variable, name: str) -> Variable:
    """Op outputs are named only by the loader; nodes stay immutable for users."""
    Variable.__dict__["name"].__set__(v, name)
    return v
