"""The package's structure, read from its source: no import cycle among graphcomp
modules, no module importing another's private name, and no op recognised by its
name string outside graphcomp/ops (passes, backends and inspectors ask the op)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "graphcomp"


def _modules() -> dict[str, ast.Module]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = ast.parse(path.read_text(), str(path))
    return out


MODULES = _modules()


def _type_checking_blocks(tree: ast.Module) -> set[int]:
    """Ids of the nodes inside ``if TYPE_CHECKING:`` blocks (imports for annotations only)."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            skip |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return skip


def _imports(name: str, tree: ast.Module) -> list[tuple[str, list[str]]]:
    """(module imported, names taken from it) for every import in ``name``, wherever it stands."""
    skip = _type_checking_blocks(tree)
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:  # relative: resolve against the package
                pkg = name.split(".")[: -node.level] if not name.endswith("__init__") else name.split(".")
                base = ".".join([*pkg, node.module])
            out.append((base, [a.name for a in node.names]))
    return out


def _dependencies() -> dict[str, set[str]]:
    deps: dict[str, set[str]] = {m: set() for m in MODULES}
    for name, tree in MODULES.items():
        for module, names in _imports(name, tree):
            if not module.startswith("graphcomp"):
                continue
            for n in names:  # `from graphcomp.ops import binary` depends on the submodule
                if f"{module}.{n}" in MODULES:
                    deps[name].add(f"{module}.{n}")
            if module in MODULES and module != name:
                deps[name].add(module)
    return deps


def test_the_source_was_read():
    assert {"graphcomp.core.node", "graphcomp.ops.base", "graphcomp.autodiff.build_grad"} <= set(MODULES)


def _find_cycle(deps: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``deps`` as a path, or None: depth-first, on an explicit stack."""
    state: dict[str, int] = {}  # 1 on the path, 2 done
    for start in deps:
        if state.get(start):
            continue
        stack = [(start, iter(sorted(deps[start])))]
        state[start] = 1
        path = [start]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            if _is_package_gathering(node, child):
                continue
            if state.get(child) == 1:
                return path[path.index(child) :] + [child]
            if not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(deps.get(child, ())))))
    return None


def test_no_import_cycle_among_graphcomp_modules():
    """Every module's imports, function-local ones included, form a DAG (a package's own
    __init__ may gather its modules, so edges into a package are not followed back)."""
    cycle = _find_cycle(_dependencies())
    assert cycle is None, f"import cycle: {' -> '.join(cycle)}"


def test_the_cycle_finder_finds_a_cycle():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def _is_package_gathering(importer: str, imported: str) -> bool:
    # graphcomp/__init__ and graphcomp/ops/__init__ import their submodules; a submodule
    # importing its package (to reach a sibling) is what Python itself does first
    return imported in ("graphcomp", "graphcomp.ops") and importer.startswith(imported + ".")


def test_no_module_imports_another_modules_private_name():
    offenders = []
    for name, tree in MODULES.items():
        for module, names in _imports(name, tree):
            if module.startswith("graphcomp"):
                offenders += [f"{name} imports {module}.{n}" for n in names if n.startswith("_")]
    assert not offenders, offenders


def _is_op_name(node: ast.AST) -> bool:
    """``op.name``, ``v.owner.op.name``, ``type(op).name``: an op's name attribute."""
    if not (isinstance(node, ast.Attribute) and node.attr == "name"):
        return False
    inner = node.value
    return (isinstance(inner, ast.Name) and inner.id == "op") or (
        isinstance(inner, ast.Attribute) and inner.attr == "op"
    )


def _strings(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_strings(e) for e in node.elts)
    return False


def test_no_op_is_recognised_by_its_name_outside_the_op_library():
    """Comparing ``op.name`` with a string, or keying a table by it, outside
    graphcomp/ops: renaming an op would break it silently. Passes, backends and
    inspectors match ops by class or ask a trait. (The registry by name, for saved
    files, is the one table keyed by names.)"""
    offenders = []
    for name, tree in MODULES.items():
        if name.startswith("graphcomp.ops"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                if any(_is_op_name(s) for s in sides) and any(_strings(s) for s in sides):
                    offenders.append(f"{name}:{node.lineno} compares an op's name with a string")
            elif isinstance(node, ast.Subscript) and _is_op_name(node.slice):
                offenders.append(f"{name}:{node.lineno} looks a table up by an op's name")
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and node.args
                and _is_op_name(node.args[0])
                and getattr(node.func.value, "id", None) != "REGISTRY"
            ):
                offenders.append(f"{name}:{node.lineno} looks a table up by an op's name")
    assert not offenders, offenders


def test_the_checks_above_catch_what_they_look_for():
    """The name check flags each form it describes (a check that finds nothing proves nothing)."""
    bad = ast.parse(
        "a = v.owner.op.name == 'exp'\nb = op.name in ('add', 'sub')\nc = TABLE[v.owner.op.name]\nd = T.get(op.name)"
    )
    flagged = [n for n in ast.walk(bad) if isinstance(n, (ast.Compare, ast.Subscript, ast.Call))]
    assert (
        sum(
            1
            for n in flagged
            if (isinstance(n, ast.Compare) and any(_is_op_name(s) for s in [n.left, *n.comparators]))
            or (isinstance(n, ast.Subscript) and _is_op_name(n.slice))
            or (isinstance(n, ast.Call) and n.args and _is_op_name(n.args[0]))
        )
        == 4
    )
