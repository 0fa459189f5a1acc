"""einsum: NumPy's subscripts (explicit, implicit, repeated and summed labels, '...',
size-1 broadcasting), its errors (the same subscripts NumPy refuses, refused at build
time, naming the subscripts and shapes), shapes with unknown dimensions, gradients
against closed forms, PyTorch and JAX (float64) where installed, and save/load."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc
from graphcomp.core.traverse import ancestors

ORACLE_CASES = [
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("ba", [(2, 3)]),
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (5, 3, 4)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("ij,ij->i", [(2, 1), (2, 3)]),
    ("i,ij,j->", [(3,), (3, 4), (4,)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
]


def _values(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


def _ours(subscripts, shapes, values, w):
    xs = [gc.Variable(f"x{k}", s) for k, s in enumerate(shapes)]
    y = gc.einsum(subscripts, *xs)
    grads = gc.grad((y * gc.constant(w)).sum(), xs)
    out = gc.evaluate([y, *grads], dict(zip(xs, values)))
    return out[0], out[1:]


@pytest.mark.parametrize("subscripts, shapes", ORACLE_CASES, ids=[c[0] for c in ORACLE_CASES])
def test_einsum_values_and_gradients_match_pytorch(subscripts, shapes):
    torch = pytest.importorskip("torch")
    values = _values(shapes)
    ts = [torch.tensor(v, requires_grad=True) for v in values]
    ty = torch.einsum(subscripts, *ts)
    w = np.random.default_rng(1).standard_normal(tuple(ty.shape))
    (ty * torch.tensor(w)).sum().backward()
    y, grads = _ours(subscripts, shapes, values, w)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-13, atol=1e-14)
    for g, t in zip(grads, ts):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-13, atol=1e-14)


def test_einsum_gradients_match_jax():
    jax = pytest.importorskip("jax")
    if not hasattr(jax, "enable_x64"):
        pytest.skip("this JAX has no enable_x64 context")
    import jax.numpy as jnp

    with jax.enable_x64(True):
        for subscripts, shapes in ORACLE_CASES:
            values = _values(shapes)
            w = np.random.default_rng(1).standard_normal(np.einsum(subscripts, *values).shape)

            def cost(*xs, s=subscripts, w=w):
                return jnp.sum(jnp.einsum(s, *xs) * w)

            want = jax.grad(cost, argnums=tuple(range(len(values))))(*map(jnp.asarray, values))
            _, grads = _ours(subscripts, shapes, values, w)
            for g, j in zip(grads, want):
                np.testing.assert_allclose(g, np.asarray(j), rtol=1e-13, atol=1e-14)


def test_einsum_diagonal_gradient_lies_on_the_diagonal():
    """d sum(w * diag(A)) / dA = diag(w): the trap of a repeated label ("ii->i")."""
    a = gc.Variable("a", (3, 3))
    w = np.array([1.0, -2.0, 5.0])
    g = gc.grad((gc.einsum("ii->i", a) * gc.constant(w)).sum(), a)
    np.testing.assert_array_equal(gc.evaluate(g, {a: np.ones((3, 3))}), np.diag(w))
    u = gc.Variable("u", (None, None))  # the identity then comes from the runtime size
    np.testing.assert_array_equal(gc.evaluate(gc.grad(gc.einsum("ii", u), u), {u: np.ones((4, 4))}), np.eye(4))


def test_einsum_is_differentiable_again_the_bilinear_forms_hessian():
    """x^T A x has Hessian A + A^T in x, and d2/dx dA of it is (I ⊗ x + x ⊗ I) entrywise."""
    x, a = gc.Variable("x", (3,)), gc.Variable("a", (3, 3))
    f = gc.einsum("i,ij,j->", x, a, x)
    av = np.random.default_rng(2).standard_normal((3, 3))
    xv = np.array([1.0, 2.0, -1.0])
    np.testing.assert_allclose(gc.evaluate(gc.hessian(f, x), {x: xv, a: av}), av + av.T, rtol=1e-14)
    mixed = gc.evaluate(gc.jacobian(gc.grad(f, x), a), {x: xv, a: av})  # d(grad_x)_k / dA_ij
    want = np.einsum("ki,j->kij", np.eye(3), xv) + np.einsum("kj,i->kij", np.eye(3), xv)
    np.testing.assert_allclose(mixed, want, rtol=1e-14)


@pytest.mark.parametrize(
    "subscripts, shapes, want",
    [("ij,jk->ik", [(None, None), (3, 4)], (None, 4)),
     ("ij,jk->ik", [(2, None), (None, 4)], (2, 4)),
     ("...ij,jk->...ik", [(None, 5, 2, 3), (3, 4)], (None, 5, 2, 4)),
     ("ij,ij->ij", [(1, None), (2, 3)], (2, 3)),
     ("ij,ij->ij", [(1, None), (None, 1)], (None, None)),
     ("ii->i", [(None, 3)], (3,)),
     ("...,...->...", [(None, 1), (4,)], (None, 4))],
)  # fmt: skip
def test_einsum_infers_shapes_with_unknown_dimensions(subscripts, shapes, want):
    y = gc.einsum(subscripts, *[gc.Variable(f"x{k}", s) for k, s in enumerate(shapes)])
    assert y.shape == want


def test_einsum_implicit_output_orders_labels_as_numpy():
    for subscripts in ["ba", "Ba", "bA", "i...", "ij,jk", "ji,ik", "aab"]:
        shapes = [(2, 2, 3)] if subscripts == "aab" else [(2, 3)] if "," not in subscripts else [(2, 3), (3, 4)]
        if subscripts == "ji,ik":
            shapes = [(3, 2), (2, 4)]
        values = _values(shapes)
        xs = [gc.Variable(f"x{k}", s) for k, s in enumerate(shapes)]
        y = gc.einsum(subscripts, *xs)
        want = np.einsum(subscripts, *values)
        assert y.shape == want.shape, subscripts
        np.testing.assert_allclose(gc.evaluate(y, dict(zip(xs, values))), want, rtol=1e-14)


BAD = [
    ("ij,jk", [(2, 3), (4, 5)], gc.ShapeError, "label 'j' has size 3 in operand 0 and 4 in operand 1"),
    ("ii", [(2, 3)], gc.ShapeError, "operand 0 repeats label 'i' over dimensions of sizes 2 and 3"),
    ("i->ii", [(2,)], gc.ArgumentError, "the output names 'i' more than once"),
    ("i->j", [(2,)], gc.ArgumentError, "the output names 'j', which no operand's term has"),
    ("i1", [(2, 3)], gc.ArgumentError, "invalid subscript '1'"),
    ("i,j", [(2,)], gc.ArgumentError, "2 operand term(s) for 1 operand(s)"),
    ("i", [(2,), (2,)], gc.ArgumentError, "1 operand term(s) for 2 operand(s)"),
    ("ij", [(2, 3, 4)], gc.ShapeError, "term 'ij' names 2 dimension(s) of operand 0, which has 3 (use '...'"),
    ("ijk", [(2, 3)], gc.ShapeError, "term 'ijk' names 3 dimension(s) of operand 0, which has 2"),
    ("...ij->ij", [(5, 2, 3)], gc.ArgumentError, "the output needs '...' too"),
    ("i..j", [(2, 3)], gc.ArgumentError, "'.' may appear only in one '...' per term"),
    ("i->i->i", [(2,)], gc.ArgumentError, "'->' may appear only once"),
]


@pytest.mark.parametrize("subscripts, shapes, error, words", BAD, ids=[b[0] for b in BAD])
def test_einsum_refuses_what_numpy_refuses_naming_the_subscripts_and_shapes(subscripts, shapes, error, words):
    with pytest.raises(ValueError):
        np.einsum(subscripts, *[np.ones(s) for s in shapes])
    with pytest.raises(error) as e:
        gc.einsum(subscripts, *[gc.Variable(f"x{k}", s) for k, s in enumerate(shapes)])
    message = str(e.value)
    listed = ", ".join(str(s) for s in shapes)
    assert f"einsum({subscripts!r}) with operand shapes {listed}: " in message, message
    assert words in message and "built at test_einsum.py" in message, message


def test_einsum_argument_errors():
    x = gc.Variable("x", (2,))
    with pytest.raises(gc.ArgumentError, match="subscripts must be a string"):
        gc.einsum(x, [0])
    with pytest.raises(gc.ArgumentError, match="needs at least one operand"):
        gc.einsum("i")


def test_einsum_broadcast_size_mismatch_found_at_run_time_is_numpys_error_naming_the_node():
    a, b = gc.Variable("a", (None,)), gc.Variable("b", (None,))
    with pytest.raises(gc.EvaluationError, match=r"einsum\[i,i->i\] failed"):
        gc.evaluate(gc.einsum("i,i->i", a, b), {a: np.ones(2), b: np.ones(3)})


def test_einsum_and_its_gradient_survive_save_and_load(tmp_path):
    a, b = gc.Variable("a", (None, 3)), gc.Variable("b", (3, 3))
    y = gc.einsum("ij,jj->i", a, b)
    g = gc.grad(y.sum(), b)
    loaded = gc.load(gc.save([y, g], tmp_path / "e.gcz"))
    av, bv = _values([(2, 3), (3, 3)])
    by_name = {v.name: v for v in ancestors(loaded) if v.is_input}
    want = gc.evaluate([y, g], {a: av, b: bv})
    got = gc.evaluate(loaded, {by_name["a"]: av, by_name["b"]: bv})
    for w, h in zip(want, got):
        np.testing.assert_allclose(h, w, rtol=1e-15)
    assert [v.owner.op.label() for v in loaded] == [y.owner.op.label(), g.owner.op.label()]


def test_einsum_compiles_with_the_numba_backend_too():
    pytest.importorskip("numba")
    a, b = gc.Variable("a", (2, 3)), gc.Variable("b", (3, 3))
    cost = gc.tanh(gc.einsum("ij,jk,kk->i", a, b, b)).sum()
    outs = [cost, *gc.grad(cost, [a, b])]
    av, bv = _values([(2, 3), (3, 3)])
    for got, want in zip(gc.compile(outs, [a, b], backend="numba")(av, bv), gc.evaluate(outs, {a: av, b: bv})):
        np.testing.assert_allclose(got, want, rtol=1e-13)


def _random_einsum(rng):
    """Random subscripts over 'abcd' with repeats, '...' anywhere, size-1 dimensions
    (broadcast), sometimes a wrong size; implicit or a random explicit output."""
    sizes = {c: int(rng.integers(1, 4)) for c in "abcd"}
    dots = tuple(int(rng.integers(1, 3)) for _ in range(rng.integers(0, 3)))
    wild = rng.random() < 0.15
    terms, shapes = [], []
    for _ in range(rng.integers(1, 4)):
        term = "".join(rng.choice(list("abcd"), rng.integers(0, 4)))
        shape = [sizes[c] if rng.random() > 0.2 else 1 for c in term]
        shape = [shape[term.index(c)] for c in term]  # a repeated label has one size within a term
        if wild and shape:
            shape[0] = int(rng.integers(1, 5))
        if dots and rng.random() < 0.5:
            r, at = int(rng.integers(0, len(dots) + 1)), int(rng.integers(0, len(term) + 1))
            term = term[:at] + "..." + term[at:]
            shape = shape[:at] + [d if rng.random() > 0.3 else 1 for d in dots[len(dots) - r :]] + shape[at:]
        terms.append(term)
        shapes.append(tuple(shape))
    subscripts = ",".join(terms)
    if rng.random() < 0.5:
        used = sorted(set(subscripts) - set(".,"))
        out = "".join(rng.permutation(used)[: rng.integers(0, len(used) + 1)])
        subscripts += "->" + ("..." + out if "..." in subscripts and rng.random() < 0.9 else out)
    return subscripts, shapes


@pytest.mark.parametrize("seed", range(6))
def test_random_einsums_agree_with_numpy_in_values_errors_and_gradients(seed):
    """Whatever NumPy computes we compute (known or unknown dimensions), with gradients
    matching finite differences of NumPy's own einsum; whatever NumPy refuses we refuse."""
    rng = np.random.default_rng(seed)
    for _ in range(25):
        subscripts, shapes = _random_einsum(rng)
        values = [rng.standard_normal(s) for s in shapes]
        try:
            want = np.einsum(subscripts, *values)
        except ValueError:
            with pytest.raises(gc.GraphError):
                gc.einsum(subscripts, *[gc.Variable(f"x{k}", s) for k, s in enumerate(shapes)])
            continue
        w = rng.standard_normal(np.shape(want))
        for unknown in (False, True):
            xs = [gc.Variable(f"x{k}", (None,) * len(s) if unknown else s) for k, s in enumerate(shapes)]
            y = gc.einsum(subscripts, *xs)
            assert unknown or y.shape == np.shape(want), (subscripts, shapes)
            grads = gc.grad((y * gc.constant(w)).sum(), xs)
            got, *got_grads = gc.evaluate([y, *grads], dict(zip(xs, values)))
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
            for k, g in enumerate(got_grads):
                v = rng.standard_normal(shapes[k])
                numeric = _directional(subscripts, values, w, k, v)
                assert np.shape(g) == shapes[k], (subscripts, shapes, k)
                assert np.isclose(np.sum(g * v), numeric, rtol=1e-6, atol=1e-8), (subscripts, shapes, k)


def _directional(subscripts, values, w, k, v, eps=1e-6):
    """Central difference of sum(w * np.einsum(...)) along v in operand k: NumPy's einsum, not ours."""

    def f(a):
        return np.sum(np.einsum(subscripts, *[a if j == k else x for j, x in enumerate(values)]) * w)

    return (f(values[k] + eps * v) - f(values[k] - eps * v)) / (2 * eps)
