"""Custom gradients (``gc.op_from_graph(..., bprop=)``) that the rest of graphcomp
must not trust blindly: which function a saved file meant (fingerprints), forward
mode through a bprop that is not linear in G, check_grad's linearity test, a bprop
that raises or has the wrong signature, and a group's name in messages.

Oracles: closed forms (np.clip of the cotangent), JAX (``custom_jvp`` for the
transpose forward mode applies; ``custom_vjp``, whose forward mode JAX refuses
too) where installed, and each op's NumPy forward for the ``linear`` trait."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import graphcomp as gc
from graphcomp.autodiff.linearity import nonlinear_node
from graphcomp.core.traverse import ancestors
from graphcomp.ops.composite import fingerprint

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
C = np.array([5.0, 0.5, -3.0])


def _run(code: str) -> subprocess.CompletedProcess:
    """``code`` in a fresh Python process importing this tree's graphcomp."""
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True)


SAVE_CLIP = """
    import numpy as np, graphcomp as gc
    cg = gc.op_from_graph(lambda a: a * 1.0, name="clip_grad",
                          bprop=lambda i, o, G: [gc.minimum(gc.maximum(G, -1.0), 1.0)])
    z = gc.Variable("z", (3,))
    gc.save([(cg(z) * np.array([5.0, 0.5, -3.0])).sum()], {path!r})
"""

LOAD = """
    import numpy as np, graphcomp as gc
    gc.op_from_graph(lambda a: a * 1.0, name="clip_grad", bprop={bprop})
    try:
        (c,) = gc.load({path!r})
    except gc.LoadError as e:
        print("LoadError:", e)
    else:
        z = [v for v in gc.Graph(c).input_variables if v.name == "z"][0]
        print("grad", gc.evaluate(gc.grad(c, z), {{z: np.ones(3)}}).tolist())
"""


# -- item 3: which function a saved custom gradient was ----------------------------------------------


def test_a_different_lambda_under_the_saved_name_is_refused_on_load_in_another_process(tmp_path):
    path = str(tmp_path / "lam.gcz")
    saved = _run(SAVE_CLIP.format(path=path))
    assert saved.returncode == 0, saved.stderr
    other = _run(LOAD.format(path=path, bprop="lambda i, o, G: [G * 0.0]"))
    assert other.returncode == 0, other.stderr
    text = other.stdout
    assert text.startswith("LoadError:"), text
    # both functions named, each by where it was written: every lambda's qualname is <lambda>
    assert "saved with the custom gradient __main__.<lambda> (defined at <string>:4)" in text
    assert "this process defined a different function under that name, __main__.<lambda> (defined at" in text
    # the same lambda, written again (on another line), is found and gives the clipped cotangent
    same = _run(LOAD.format(path=path, bprop="\\\n        lambda i, o, G: [gc.minimum(gc.maximum(G, -1.0), 1.0)]"))
    assert same.returncode == 0, same.stderr
    assert same.stdout.strip() == f"grad {np.clip(C, -1.0, 1.0).tolist()}"


@pytest.mark.parametrize(
    "other",
    [
        "lambda i, o, G: [gc.minimum(gc.maximum(G, -2.0), 2.0)]",  # another constant
        "lambda i, o, G: [gc.maximum(gc.minimum(G, 1.0), -1.0)]",  # the same constants, other calls
        "lambda i, o, G: [gc.minimum(gc.maximum(G, -1.0), 1.0) * 1.0]",  # one more op
    ],
)
def test_any_change_to_the_function_is_refused(tmp_path, other):
    path = str(tmp_path / "lam.gcz")
    assert _run(SAVE_CLIP.format(path=path)).returncode == 0
    assert _run(LOAD.format(path=path, bprop=other)).stdout.startswith("LoadError:")


def _helper_bprop(scale: float, body: str) -> str:
    return f"""
    import numpy as np, graphcomp as gc
    SCALE = {scale}
    def shrink(G):
        return {body}
    cg = gc.op_from_graph(lambda a: a * 1.0, name="shrunk", bprop=lambda i, o, G: [shrink(G)])
"""


def test_a_helper_the_bprop_calls_and_a_global_it_reads_are_part_of_it(tmp_path):
    path = str(tmp_path / "helper.gcz")
    save = (
        _helper_bprop(0.5, "G * SCALE")
        + f"""
    z = gc.Variable("z", (3,))
    gc.save((cg(z) * np.array([5.0, 0.5, -3.0])).sum(), {path!r})
"""
    )
    assert _run(save).returncode == 0
    load = """
    try:
        c = gc.load({path!r})
    except gc.LoadError as e:
        print("LoadError:", e)
    else:
        z = gc.Graph(c).input_variables[0]
        print("grad", gc.evaluate(gc.grad(c, z), {{z: np.ones(3)}}).tolist())
"""
    assert _run(_helper_bprop(0.5, "G * SCALE") + load.format(path=path)).stdout.strip() == f"grad {(C * 0.5).tolist()}"
    assert _run(_helper_bprop(0.25, "G * SCALE") + load.format(path=path)).stdout.startswith("LoadError:")
    assert _run(_helper_bprop(0.5, "G / SCALE") + load.format(path=path)).stdout.startswith("LoadError:")


def test_fingerprints_tell_closures_apart_and_ignore_where_a_function_was_written():
    def make(scale):
        return lambda i, o, G: [G * scale]

    assert fingerprint(make(2.0)) == fingerprint(make(2.0))
    assert fingerprint(make(2.0))["code"] != fingerprint(make(3.0))["code"]
    first = lambda i, o, G: [G * 2.0]  # noqa: E731
    # written on another line, the same code
    second = (
        lambda i, o, G: [G * 2.0]  # noqa: E731
    )
    assert fingerprint(first) == fingerprint(second)
    assert fingerprint(first)["code"] != fingerprint(lambda i, o, G: [G / 2.0])["code"]


def test_the_same_process_refuses_a_redefinition_that_differs(tmp_path):
    z = gc.Variable("z", (3,))
    cg = gc.op_from_graph(lambda a: a * 1.0, name="clip_same_process", bprop=lambda i, o, G: [gc.minimum(G, 1.0)])
    path = gc.save((cg(z) * C).sum(), str(tmp_path / "g.gcz"))
    gc.op_from_graph(lambda a: a * 1.0, name="clip_same_process", bprop=lambda i, o, G: [gc.minimum(G, 1.0)])
    cost = gc.load(path)  # the same code, defined again (a notebook cell run twice): found
    z2 = gc.Graph(cost).input_variables[0]
    assert gc.evaluate(gc.grad(cost, z2), {z2: np.ones(3)}).tolist() == np.minimum(C, 1.0).tolist()
    gc.op_from_graph(lambda a: a * 1.0, name="clip_same_process", bprop=lambda i, o, G: [G])
    with pytest.raises(gc.LoadError, match="clip_same_process.*different function under that name"):
        gc.load(path)


def test_two_groups_with_one_name_and_different_bprops_are_refused_at_save(tmp_path):
    def bp_clip(i, o, G):
        return [gc.minimum(gc.maximum(G, -1.0), 1.0)]

    def bp_zero(i, o, G):
        return [G * 0.0]

    A = gc.op_from_graph(lambda a: a * 1.0, name="g_twice", bprop=bp_clip)
    B = gc.op_from_graph(lambda a: a * 1.0, name="g_twice", bprop=bp_zero)
    z = gc.Variable("z", (3,))
    path = tmp_path / "two.gcz"
    with pytest.raises(gc.ArgumentError, match=r"two op_from_graph groups named 'g_twice'.*bp_clip \(defined at .*"
                       r"bp_zero \(defined at"):  # fmt: skip
        gc.save([(A(z) + B(z)).sum()], str(path))
    assert not path.exists()  # nothing half written
    # two groups of one name and the same bprop code are one gradient: saved, and loaded
    A2 = gc.op_from_graph(lambda a: a * 1.0, name="g_same", bprop=lambda i, o, G: [G * 2.0])
    B2 = gc.op_from_graph(lambda a: a * 1.0, name="g_same", bprop=lambda i, o, G: [G * 2.0])
    cost = gc.load(gc.save((A2(z) + B2(z)).sum(), str(path)))
    z2 = gc.Graph(cost).input_variables[0]
    assert gc.evaluate(gc.grad(cost, z2), {z2: np.ones(3)}).tolist() == [4.0] * 3


def _rewrite(path, change) -> None:
    """Apply ``change`` to the file's graph.json, keeping its checksum valid."""
    import hashlib

    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    graph = json.loads(members["graph.json"])
    change(graph)
    members["graph.json"] = json.dumps(graph).encode()
    manifest = json.loads(members["manifest.json"])
    manifest["sha256"]["graph.json"] = hashlib.sha256(members["graph.json"]).hexdigest()
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)


def _bprop_records(graph):
    return [
        n["op"]["params"]["custom"]["bprop"] for n in graph["nodes"] if n.get("op", {}).get("name") == "op_from_graph"
    ]


def test_another_python_version_is_checked_without_bytecode_and_old_files_by_name(tmp_path):
    z = gc.Variable("z", (3,))
    cg = gc.op_from_graph(lambda a: a * 1.0, name="versioned", bprop=lambda i, o, G: [G * 2.0])
    path = gc.save((cg(z) * C).sum(), str(tmp_path / "g.gcz"))

    def other_python(graph):
        for rec in _bprop_records(graph):
            rec["python"], rec["code"] = "3.0", "0" * 32  # bytecode of another version: not comparable

    _rewrite(path, other_python)
    cost = gc.load(path)  # the portable fingerprint agrees
    z2 = gc.Graph(cost).input_variables[0]
    assert gc.evaluate(gc.grad(cost, z2), {z2: np.ones(3)}).tolist() == (2 * C).tolist()
    gc.op_from_graph(lambda a: a * 1.0, name="versioned", bprop=lambda i, o, G: [G * 3.0])
    with pytest.raises(gc.LoadError, match="different function"):
        gc.load(path)

    def before_fingerprints(graph):
        for rec in _bprop_records(graph):
            for key in ("python", "code", "portable", "defined_at"):
                del rec[key]

    _rewrite(path, before_fingerprints)
    assert gc.load(path) is not None  # only the name to go by: <lambda> matches <lambda>


def test_a_lambda_group_with_a_custom_bprop_needs_a_name():
    with pytest.raises(gc.ArgumentError, match="a custom bprop needs name="):
        gc.op_from_graph(lambda a: a * 1.0, bprop=lambda i, o, G: [G])
    assert gc.op_from_graph(gc.sign, bprop=lambda i, o, G: [G]).__name__ == "sign"  # a def names itself


# -- item 10 (bprops): wrong signatures and exceptions name the group and the line ----------------------


def test_a_bprop_with_the_wrong_signature_is_refused_where_it_is_given():
    def two(inputs, G):
        return [G]

    with pytest.raises(gc.ArgumentError, match=r"op_from_graph 'sig'.*two \(defined at test_custom_bprop_safety.py:"
                       r"\d+\) must take three arguments \(inputs, output, G\).*two\(inputs, G\)"):  # fmt: skip
        gc.op_from_graph(lambda a: a * 1.0, name="sig", bprop=two)
    gc.op_from_graph(lambda a: a * 1.0, name="sig_ok", bprop=lambda *args: [args[2]])  # *args takes three


def test_a_bprop_that_raises_is_named_with_its_group_and_line():
    x = gc.Variable("x", (3,))
    zde = gc.op_from_graph(lambda a: a * 1.0, name="zde", bprop=lambda i, o, G: [G * (1 / 0)])
    with pytest.raises(gc.BpropError, match=r"zde: the custom bprop .*<lambda> \(defined at test_custom_bprop_safety."
                       r"py:\d+\) raised ZeroDivisionError at test_custom_bprop_safety.py:\d+: division by zero; the "
                       r"group was built at test_custom_bprop_safety.py:\d+") as info:  # fmt: skip
        gc.grad(zde(x).sum(), x)
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    # a graphcomp error keeps its class (except gc.ShapeError still catches it) and gains the group's name
    bad_shape = gc.op_from_graph(lambda a: a * 1.0, name="bad_shape", bprop=lambda i, o, G: [G @ gc.ones((4, 4))])
    with pytest.raises(gc.ShapeError, match="bad_shape: the custom bprop .* raised ShapeError"):
        gc.grad(bad_shape(x).sum(), x)
    not_a_value = gc.op_from_graph(lambda a: a * 1.0, name="not_a_value", bprop=lambda i, o, G: ["G"])
    with pytest.raises(gc.BpropError, match="not_a_value: the custom bprop .* returned str as the gradient of input 0"):
        gc.grad(not_a_value(x).sum(), x)


# -- item 4: forward mode through a custom bprop ------------------------------------------------------


def test_jvp_refuses_a_bprop_not_linear_in_G_as_jax_refuses_custom_vjp():
    a = gc.Variable("a")
    sq = gc.op_from_graph(lambda u: u * 1.0, name="sqg", bprop=lambda i, o, G: [G * G])
    y = sq(a) * 3.0
    assert gc.evaluate(gc.grad(y, a), {a: 1.0}) == 9.0  # reverse mode uses it as given
    with pytest.raises(gc.GradientError, match=r"jvp: forward mode cannot go through the op_from_graph group 'sqg' "
                       r"\(built at .*\): its custom bprop .* is not linear in G \(multiply, built at"):  # fmt: skip
        gc.jvp(y, a, 1.0)
    x = gc.Variable("x", (3,))
    clip = gc.op_from_graph(lambda u: u * 1.0, name="clip_fwd", bprop=lambda i, o, G: [gc.clip(G, -1.0, 1.0)])
    with pytest.raises(gc.GradientError, match="jacobian: forward mode cannot go through .* 'clip_fwd'"):
        gc.jacobian(clip(x), x, mode="forward")
    affine = gc.op_from_graph(lambda u: u * 1.0, name="affine", bprop=lambda i, o, G: [G + 1.0])
    with pytest.raises(gc.GradientError, match="'affine'.*add, built at"):
        gc.jvp(affine(x).sum(), x, np.ones(3))

    jax = pytest.importorskip("jax")

    @jax.custom_vjp
    def sq_jax(u):
        return u

    sq_jax.defvjp(lambda u: (u, None), lambda _, g: (g * g,))
    with pytest.raises(TypeError, match="custom_vjp"):  # JAX refuses too
        jax.jvp(lambda u: sq_jax(u) * 3.0, (1.0,), (1.0,))


def test_jvp_through_a_bprop_linear_in_G_is_the_transposed_custom_gradient():
    """The straight-through estimator and a bprop reading its input are linear in G:
    forward mode applies their transpose (as JAX's custom_jvp, whose rule is linear
    in the tangent, gives forward and reverse mode)."""
    x = gc.Variable("x", (3,))
    xv, vv = np.array([0.4, -1.0, 2.0]), np.array([1.0, -2.0, 0.5])
    ste = gc.op_from_graph(gc.sign, name="ste_fwd", bprop=lambda i, o, G: [G])
    scaled = gc.op_from_graph(lambda u: u * u, name="scaled_fwd", bprop=lambda i, o, G: [G * i[0] * 3.0])
    masked = gc.op_from_graph(lambda u: u * 1.0, name="masked_fwd", bprop=lambda i, o, G: [gc.where(i[0] > 0, G, 0.0)])
    got = gc.evaluate([gc.jvp(ste(x), x, vv), gc.jvp(scaled(x), x, vv), gc.jvp(masked(x), x, vv)], {x: xv})
    want = [vv, 3 * xv * vv, np.where(xv > 0, vv, 0.0)]  # J v with J^T = the custom gradient (diagonal here)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-15)

    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    @jax.custom_jvp
    def ste_jax(u):
        return jnp.sign(u)

    ste_jax.defjvp(lambda primals, tangents: (ste_jax(primals[0]), tangents[0]))
    _, t = jax.jvp(ste_jax, (jnp.asarray(xv),), (jnp.asarray(vv),))
    np.testing.assert_allclose(got[0], np.asarray(t), rtol=1e-15)


def test_forward_mode_looks_inside_groups_and_loops_and_only_on_the_path():
    x, w = gc.Variable("x", (3,)), gc.Variable("w", (3,))
    clip = gc.op_from_graph(lambda u: u * 1.0, name="clip_inner", bprop=lambda i, o, G: [gc.clip(G, -1.0, 1.0)])
    outer = gc.op_from_graph(lambda u: clip(u) * 2.0, name="outer_plain")
    with pytest.raises(gc.GradientError, match="'clip_inner'"):
        gc.jvp(outer(x).sum(), x, np.ones(3))
    scanned, _ = gc.scan(lambda c, t: (c + clip(t).sum(), None), gc.constant(0.0), xs=gc.stack([x, x]))
    with pytest.raises(gc.GradientError, match="'clip_inner'"):
        gc.jvp(scanned, x, np.ones(3))
    # second order: jvp of a gradient that went through the group differentiates the group again
    with pytest.raises(gc.GradientError, match="'clip_inner'"):
        gc.jvp(gc.grad((clip(x) * x).sum(), x), x, np.ones(3))
    # the group off the path from w: forward mode in w is untouched
    y = (clip(x) * w).sum()
    xv, wv, vv = np.array([0.3, -0.2, 4.0]), np.array([1.0, 2.0, 3.0]), np.array([0.5, 1.0, -1.0])
    assert gc.evaluate(gc.jvp(y, w, vv), {x: xv, w: wv}) == pytest.approx(float(np.dot(xv, vv)), rel=1e-15)


def test_jvp_consider_constant_holds_nodes_fixed_as_grad_does():
    x = gc.Variable("x", (2,))
    h = x * x
    y = gc.sin(h) * x
    xv, vv = np.array([0.3, 1.1]), np.array([1.0, -2.0])
    got = gc.evaluate(gc.jvp(y, x, vv, consider_constant=[h]), {x: xv})
    np.testing.assert_allclose(got, np.sin(xv * xv) * vv, rtol=1e-15)  # d/dx with sin(h) held: sin(x^2) v
    with pytest.raises(gc.GradientError, match="a consider_constant node"):
        gc.jvp(gc.sin(h), x, vv, consider_constant=[h])


def test_the_linearity_check_is_sound_on_small_graphs():
    G, x = gc.Variable("G", (3,)), gc.Variable("x", (3,))
    linear = [G * x, G / 2.0, -G + G, gc.where(x > 0, G, 0.0), (G @ gc.ones((3, 3))).sum(), gc.pad(G, 1)[1:-1],
              gc.cumsum(G), gc.stack([G, G * 2.0]).reshape(6), G.astype("float32"), G - gc.zeros_like(x)]  # fmt: skip
    nonlinear = [G * G, G + 1.0, gc.maximum(G, 0.0), gc.abs(G), gc.exp(G), G.astype("int64"), gc.pad(G, 1, 1.0),
                 gc.where(G > 0, G, 0.0), gc.stop_gradient(G)]  # fmt: skip
    assert [nonlinear_node([e], G) for e in linear] == [None] * len(linear)
    assert all(nonlinear_node([e], G) is not None for e in nonlinear)
    # what it calls linear is: f(a G1 + G2) = a f(G1) + f(G2) on random values
    rng = np.random.default_rng(0)
    xv = rng.standard_normal(3)
    G1, G2 = rng.standard_normal(3), rng.standard_normal(3)
    for e in linear:
        f = lambda g, e=e: np.asarray(gc.evaluate(e, {G: g, x: xv}), dtype=np.float64)  # noqa: E731
        np.testing.assert_allclose(f(2.5 * G1 + G2), 2.5 * f(G1) + f(G2), rtol=1e-6, atol=1e-6)


# -- item 9: check_grad tests a custom bprop's linearity in G ------------------------------------------


def test_check_grad_names_a_bprop_that_is_nonlinear_in_G_even_where_a_unit_cotangent_passes():
    z = gc.Variable("z", (3,))
    cg = gc.op_from_graph(lambda a: a * 1.0, name="clip_grad_cg", bprop=lambda i, o, G: [gc.clip(G, -1.0, 1.0)])
    report = gc.check_grad(cg(z).sum() * 5, z, {z: np.ones(3)})
    assert not report.ok
    bad = report.first_failure
    assert bad.node.owner.op.label() == "clip_grad_cg" and bad.test.startswith("linear in G")
    text = str(report)
    assert "first wrong bprop: clip_grad_cg built at" in text and "(its custom bprop is not linear in G)" in text
    # the finite-difference row of the node alone passes at its unit cotangent: only the linearity rows catch it
    fd_rows = [c for c in report.nodes if c.node is bad.node and c.test == "finite differences"]
    assert fd_rows and all(c.ok for c in fd_rows)
    # squaring G fails at every scale; a linear custom bprop passes every linearity row
    sq = gc.op_from_graph(lambda a: a * 1.0, name="sq_cg", bprop=lambda i, o, G: [G * G])
    assert gc.check_grad(sq(z).sum() * 5, z, {z: np.ones(3)}).first_failure.node.owner.op.label() == "sq_cg"
    ok = gc.op_from_graph(lambda a: a * a, name="own_cg", bprop=lambda i, o, G: [G * 2.0 * i[0]])
    report = gc.check_grad((ok(z) * np.array([1.0, -2.0, 3.0])).sum(), z, {z: np.array([0.5, 1.5, -2.0])})
    assert report.ok and any(c.test.startswith("linear in G") for c in report.nodes)


# -- minor: a group's name in back-references and messages ---------------------------------------------


def test_a_group_is_called_by_its_name_in_dprint_back_references_and_messages():
    x = gc.Variable("x", (2,))
    layer = gc.op_from_graph(lambda a: gc.sin(a) * 2.0, name="layer")
    h = layer(x)
    text = gc.inspect.text.format_graph(h * h + h)
    assert "-> #1 layer" in text and "op_from_graph" not in text
    assert h.label() == "layer" and gc.exp(x).label() == "exp"
    with pytest.raises(gc.GradientError, match="but layer has shape"):
        gc.grad(h, x)
    assert [v.label() for v in ancestors([h]) if v.owner is not None] == ["layer"]
