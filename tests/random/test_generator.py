"""gc.random.Generator: the laws of its draws (closed-form moments, binomial bounds,
Kolmogorov-Smirnov against SciPy where installed), shapes and dtypes, the state that
compile and evaluate advance, reproducibility, gradients (none into a draw; the
reparameterised ones into mean/std/low/high against closed forms and finite
differences with the draw held fixed), and what the passes may and may not do."""

from __future__ import annotations

import math

import numpy as np
import pytest

import graphcomp as gc
from graphcomp.ops.random import Draw, RandomBernoulli, RandomNormal, RandomUniform

N = 200_000
SIGMAS = 5.0  # every statistical bound: five standard errors (a false failure about once in 1.7 million)


def _mean_within(v, mean, var, n=None):
    n = v.size if n is None else n
    assert abs(float(v.mean()) - mean) < SIGMAS * math.sqrt(var / n), (float(v.mean()), mean)


def _variance_within(v, var, fourth_central):
    # the sample variance's standard error: sqrt((mu4 - sigma^4) / n)
    se = math.sqrt((fourth_central - var**2) / v.size)
    assert abs(float(v.var()) - var) < SIGMAS * se, (float(v.var()), var)


# -- the laws ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_normal_has_its_mean_and_variance(dtype):
    v = gc.evaluate(gc.random.Generator(1).normal((N,), mean=3.0, std=2.0, dtype=dtype)).astype(np.float64)
    _mean_within(v, 3.0, 4.0)
    _variance_within(v, 4.0, 3 * 2.0**4)  # a normal's fourth central moment is 3 sigma^4
    # the tails: the share beyond 2 sigma is 2 (1 - Phi(2)) = erfc(2 / sqrt 2)
    tail = math.erfc(2 / math.sqrt(2))
    share = float(np.mean(np.abs(v - 3.0) > 4.0))
    assert abs(share - tail) < SIGMAS * math.sqrt(tail * (1 - tail) / N)


def test_uniform_has_its_mean_and_variance_and_range():
    low, high = -1.5, 2.5
    v = gc.evaluate(gc.random.Generator(2).uniform((N,), low, high))
    assert v.min() >= low and v.max() < high
    width = high - low
    _mean_within(v, (low + high) / 2, width**2 / 12)
    _variance_within(v, width**2 / 12, width**4 / 80)
    # every tenth of the range holds a tenth of the numbers
    counts = np.histogram(v, bins=10, range=(low, high))[0]
    assert np.all(np.abs(counts - N / 10) < SIGMAS * math.sqrt(N * 0.1 * 0.9))


@pytest.mark.parametrize("p", [0.0, 0.03, 0.5, 0.9, 1.0])
def test_bernoulli_frequency_is_within_binomial_bounds(p):
    m = gc.evaluate(gc.random.Generator(3).bernoulli((N,), p))
    assert set(np.unique(m).tolist()) <= {0.0, 1.0}
    k = int(m.sum())
    assert abs(k - N * p) <= SIGMAS * math.sqrt(N * p * (1 - p))  # exact 0 and N at p = 0 and 1


def test_bernoulli_takes_a_probability_per_entry():
    p = np.linspace(0.05, 0.95, 10)
    m = gc.evaluate(gc.random.Generator(4).bernoulli((N // 10, 10), gc.constant(p)))
    k = m.sum(axis=0)
    n = N // 10
    assert np.all(np.abs(k - n * p) <= SIGMAS * np.sqrt(n * p * (1 - p)))


def test_kolmogorov_smirnov_against_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = gc.random.Generator(5)
    normal = gc.evaluate(rng.normal((50_000,), mean=-1.0, std=0.5))
    uniform = gc.evaluate(rng.uniform((50_000,), 2.0, 5.0))
    assert stats.kstest(normal, "norm", args=(-1.0, 0.5)).pvalue > 1e-3
    assert stats.kstest(uniform, "uniform", args=(2.0, 3.0)).pvalue > 1e-3
    f32 = gc.evaluate(rng.normal((50_000,), dtype="float32"))
    assert stats.kstest(f32.astype(np.float64), "norm").pvalue > 1e-3
    # the test can tell: a 5 % wrong scale fails it
    assert stats.kstest(normal, "norm", args=(-1.0, 0.525)).pvalue < 1e-6


def test_draws_in_one_call_and_across_calls_are_uncorrelated():
    rng = gc.random.Generator(6)
    a, b = rng.normal((N,)), rng.normal((N,))
    f = gc.compile([a, b])
    a1, b1 = f()
    a2, _ = f()
    bound = SIGMAS / math.sqrt(N)  # the correlation of independent samples has standard error 1/sqrt(n)
    for u, v in ((a1, b1), (a1, a2)):
        assert abs(float(np.corrcoef(u, v)[0, 1])) < bound
    # and next-door numbers of one draw
    assert abs(float(np.corrcoef(a1[:-1], a1[1:])[0, 1])) < bound


# -- the stream: a pure function of (seed, draw, state) -------------------------------------------------------------


def _stream(seed, draw, calls):
    key = np.random.SeedSequence(seed).generate_state(2, np.uint64)
    return np.random.Generator(np.random.Philox(key=key, counter=np.array([0, 0, draw, calls], np.uint64)))


def test_the_numbers_are_numpys_own_normal_and_uniform_of_the_documented_stream():
    rng = gc.random.Generator(11)
    z = rng.normal((4, 3), mean=1.0, std=3.0)
    u = rng.uniform((5,), -2.0, 7.0)
    f = gc.compile([z, u])
    for calls in range(3):
        got_z, got_u = f()
        np.testing.assert_array_equal(got_z, _stream(11, 0, calls).normal(1.0, 3.0, (4, 3)))
        np.testing.assert_array_equal(got_u, _stream(11, 1, calls).uniform(-2.0, 7.0, 5))


def test_the_same_seed_reproduces_the_sequence_of_calls_and_another_does_not():
    def run(seed):
        rng = gc.random.Generator(seed)
        x = gc.Variable("x", (None, 2))
        f = gc.compile([rng.normal_like(x), rng.bernoulli_like(x, 0.5)], [x])
        return [np.concatenate([a.ravel() for a in f(np.zeros((3, 2)))]) for _ in range(4)]

    first, again, other = run(7), run(7), run(8)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not any(np.array_equal(a, b) for a, b in zip(first, other))
    assert len({a.tobytes() for a in first}) == 4  # each call new


def test_setting_the_state_replays_a_call():
    rng = gc.random.Generator(12)
    z = rng.uniform((6,))
    values = [gc.evaluate(z) for _ in range(4)]
    rng.state.set_value(2)
    np.testing.assert_array_equal(gc.evaluate(z), values[2])
    assert int(rng.state.value) == 3


def test_a_seed_is_a_non_negative_int_or_none():
    assert gc.random.Generator(2**80).seed == 2**80  # any size, as NumPy's SeedSequence
    fresh = gc.random.Generator()
    assert isinstance(fresh.seed, int) and fresh.seed >= 0
    replay = gc.random.Generator(fresh.seed)
    np.testing.assert_array_equal(gc.evaluate(fresh.normal((3,))), gc.evaluate(replay.normal((3,))))
    for bad in (-1, 1.5, "3", True):
        with pytest.raises(gc.ArgumentError, match="seed"):
            gc.random.Generator(bad)


# -- the state: compile and evaluate advance it ---------------------------------------------------------------------


def test_compile_and_evaluate_both_advance_the_state():
    rng = gc.random.Generator(13)
    z = rng.normal((3,))
    assert int(rng.state.value) == 0
    f = gc.compile(z)
    seen = [f(), f(), gc.evaluate(z), f(), gc.evaluate(z)]
    assert int(rng.state.value) == 5
    assert len({v.tobytes() for v in seen}) == 5
    for k, v in enumerate(seen):  # call k read state k, whichever way it ran
        np.testing.assert_array_equal(v, _stream(13, 0, k).standard_normal(3))


def test_one_run_advances_the_state_once_however_many_draws_it_holds():
    rng = gc.random.Generator(14)
    x = gc.Variable("x", (2,))
    ys = [x + rng.normal((2,)) for _ in range(5)]
    gc.evaluate(ys, {x: [0.0, 0.0]})
    gc.compile(ys, [x])([0.0, 0.0])
    assert int(rng.state.value) == 2


def test_a_function_that_draws_nothing_does_not_advance_the_state():
    rng = gc.random.Generator(15)
    z = rng.normal((2,))
    x = gc.Variable("x")
    gc.compile(x * 2.0)(1.0)
    gc.evaluate(x * 2.0, {x: 1.0})
    assert int(rng.state.value) == 0 and z.shape == (2,)


def test_training_updates_and_the_state_are_applied_together():
    rng = gc.random.Generator(16)
    w = gc.Parameter(np.zeros(3), "w")
    noise = rng.normal((3,))
    cost = ((w - noise) ** 2).sum()
    step = gc.compile(cost, [], updates=gc.optim.sgd(cost, [w], lr=0.5))
    step()
    # one step of lr 0.5 on (w - z)^2 from w = 0 lands on z: the draw of state 0
    np.testing.assert_allclose(w.value, _stream(16, 0, 0).standard_normal(3), rtol=0, atol=0)
    assert int(rng.state.value) == 1


def test_a_user_update_of_the_state_is_refused():
    rng = gc.random.Generator(17)
    z = rng.normal((2,))
    with pytest.raises(gc.ArgumentError, match="state of a random generator"):
        gc.compile(z, updates={rng.state: rng.state + 2})


def test_frozen_runs_see_the_same_draws_and_other_updates_still_apply():
    rng = gc.random.Generator(18)
    z = rng.normal((3,))
    count = gc.Parameter(np.int64(0), "count")
    f = gc.compile(z, updates={count: count + 1})
    with gc.random.frozen():
        a, b, c = f(), f(), gc.evaluate(z)
    assert np.array_equal(a, b) and np.array_equal(a, c)
    assert int(rng.state.value) == 0 and int(count.value) == 2
    assert not np.array_equal(f(), f())  # outside, each call draws anew


# -- shapes and dtypes ----------------------------------------------------------------------------------------------


def test_static_shapes_and_int_shapes():
    rng = gc.random.Generator(19)
    for shape, want in [((2, 3), (2, 3)), (4, (4,)), ((), ()), ((0, 3), (0, 3))]:
        for z in (rng.normal(shape), rng.uniform(shape), rng.bernoulli(shape, 0.5)):
            assert z.shape == want
            assert gc.evaluate(z).shape == want


@pytest.mark.parametrize("batch", [1, 7, 0])
def test_like_draws_take_the_run_time_shape_unknown_dimensions_included(batch):
    rng = gc.random.Generator(20)
    x = gc.Variable("x", (None, 3, None))
    value = np.zeros((batch, 3, 2))
    draws = [rng.normal_like(x), rng.uniform_like(x, -1.0, 1.0), rng.bernoulli_like(x, 0.25)]
    assert all(d.shape == (None, 3, None) for d in draws)
    f = gc.compile(draws, [x])
    for got in [*f(value), *gc.evaluate(draws, {x: value})]:
        assert got.shape == (batch, 3, 2)


def test_shape_errors_name_the_call():
    rng = gc.random.Generator(21)
    for bad in [(2, None), (-1,), (2.0,), "3", (True,)]:
        with pytest.raises(gc.ArgumentError, match="shape"):
            rng.normal(bad)
    with pytest.raises(gc.ShapeError, match="does not broadcast to the draw's shape"):
        rng.normal((3,), mean=gc.Variable("m", (2, 3)))
    with pytest.raises(gc.ShapeError, match="must broadcast"):
        rng.bernoulli((3,), gc.Variable("p", (4,)))
    with pytest.raises(gc.ArgumentError, match="x must be a Variable"):
        rng.normal_like(np.zeros(3))


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_float_dtypes_stay_what_they_are(dtype):
    rng = gc.random.Generator(22)
    draws = [rng.normal((50,), mean=1.0, std=2.0, dtype=dtype), rng.uniform((50,), 1.0, 3.0, dtype=dtype)]
    x = gc.Variable("x", (None,), dtype)
    draws += [rng.normal_like(x, std=0.5), rng.uniform_like(x), rng.bernoulli_like(x, 0.5)]
    f = gc.compile(draws, [x])
    for d, v in zip(draws, f(np.zeros(50, dtype))):
        assert d.dtype == np.dtype(dtype) and v.dtype == np.dtype(dtype)


def test_dtype_defaults_and_conflicts():
    rng = gc.random.Generator(23)
    m32 = gc.Variable("m", (3,), "float32")
    assert rng.normal((3,), mean=m32).dtype == np.float32  # the Variables' dtype
    assert rng.normal((3,)).dtype == np.float64
    assert rng.normal_like(gc.Variable("k", (3,), "int64")).dtype == np.float64
    assert rng.bernoulli((3,), 0.5, dtype=bool).dtype == np.bool_
    assert gc.evaluate(rng.bernoulli((3,), 1.0, dtype="int8")).tolist() == [1, 1, 1]
    with pytest.raises(gc.DTypeError, match="cast it"):
        rng.normal((3,), mean=m32, dtype="float64")
    with pytest.raises(gc.DTypeError, match="float dtype"):
        rng.uniform((3,), dtype="int64")
    with pytest.raises(gc.DTypeError, match="must be floats"):
        rng.normal((3,), std=gc.Variable("s", (3,), "int64"))


def test_bad_numbers_are_refused():
    rng = gc.random.Generator(24)
    with pytest.raises(gc.ArgumentError, match="std must be >= 0"):
        rng.normal((2,), std=-1.0)
    with pytest.raises(gc.ArgumentError, match="low must be <= high"):
        rng.uniform((2,), 2.0, 1.0)
    with pytest.raises(gc.ArgumentError, match=r"p must be in \[0, 1\]"):
        rng.bernoulli((2,), 1.5)
    with pytest.raises(gc.ArgumentError, match="finite"):
        rng.normal((2,), mean=float("nan"))
    # a p Variable is checked when the graph runs, naming the op and where it was built
    p = gc.Variable("p", (2,))
    draw = rng.bernoulli((2,), p)
    with pytest.raises(gc.EvaluationError, match=r"random_bernoulli.*p must be in \[0, 1\].*built at"):
        gc.evaluate(draw, {p: [0.5, -0.1]})
    with pytest.raises(gc.EvaluationError, match=r"p must be in \[0, 1\]"):
        gc.evaluate(draw, {p: [0.5, float("nan")]})


# -- gradients ------------------------------------------------------------------------------------------------------


def test_no_gradient_flows_into_a_draw():
    rng = gc.random.Generator(25)
    x = gc.Variable("x", (None, 3))
    assert not RandomNormal.differentiable and not RandomUniform.differentiable and not RandomBernoulli.differentiable
    with pytest.raises(gc.GradientError, match="random_normal"):
        gc.grad(rng.normal_like(x).sum(), x)
    p = gc.Variable("p")
    with pytest.raises(gc.GradientError, match="random_bernoulli"):
        gc.grad(rng.bernoulli((4,), p).sum(), p)
    # through x itself the gradient is the one of x + (something x does not move)
    (g,) = gc.grad((x + rng.normal_like(x)).sum(), [x])
    np.testing.assert_array_equal(gc.evaluate(g, {x: np.zeros((2, 3))}), np.ones((2, 3)))


def _fd(f, x, v, h=1e-6):
    return (f(x + h * v) - f(x - h * v)) / (2 * h)


def test_reparameterised_gradients_of_normal_match_closed_forms_and_finite_differences():
    rng = gc.random.Generator(26)
    m, s = gc.Variable("m", (4,)), gc.Variable("s", (4,))
    y = rng.normal((3, 4), mean=m, std=s)
    R = np.random.default_rng(0).standard_normal((3, 4))
    cost = (y * R).sum()
    gm, gs = gc.grad(cost, [m, s])
    mv, sv = np.array([0.5, -1.0, 2.0, 0.0]), np.array([1.0, 0.3, 2.0, 0.7])
    d = np.random.default_rng(1).standard_normal(4)
    with gc.random.frozen():  # finite differences need the same draw in every run
        yv, gmv, gsv = gc.evaluate([y, gm, gs], {m: mv, s: sv})  # one run: one draw for all three
        z = (yv - mv) / sv  # the standard draw behind y
        np.testing.assert_allclose(gmv, R.sum(0), rtol=1e-12)  # d/dm sum(R (m + s z)) = sum_rows R
        np.testing.assert_allclose(gsv, (R * z).sum(0), rtol=1e-9)  # d/ds = sum_rows R z
        fm = _fd(lambda a: float(gc.evaluate(cost, {m: a, s: sv})), mv, d)
        fs = _fd(lambda a: float(gc.evaluate(cost, {m: mv, s: a})), sv, d)
    assert np.isclose(fm, gmv @ d, rtol=1e-6) and np.isclose(fs, gsv @ d, rtol=1e-6)


def test_reparameterised_gradients_of_uniform_match_closed_forms():
    rng = gc.random.Generator(27)
    lo, hi = gc.Variable("lo"), gc.Variable("hi")
    y = rng.uniform((1000,), lo, hi)
    glo, ghi = gc.grad(y.sum(), [lo, hi])
    yv, glov, ghiv = gc.evaluate([y, glo, ghi], {lo: -1.0, hi: 3.0})
    u = (yv + 1.0) / 4.0
    assert np.isclose(float(glov), float((1 - u).sum()), rtol=1e-9)  # d/dlow (low + (high - low) u) = 1 - u
    assert np.isclose(float(ghiv), float(u.sum()), rtol=1e-9)


def test_check_grad_passes_on_a_graph_with_draws_when_they_are_held():
    rng = gc.random.Generator(28)
    x = gc.Variable("x", (5,))
    y = gc.tanh(x * rng.normal((5,), mean=1.0)) + gc.nn.dropout(x, 0.4, rng)
    with gc.random.frozen():
        report = gc.check_grad(y, x, {x: np.linspace(-1, 1, 5)})
    assert report.ok, report


# -- what the passes may and may not do -----------------------------------------------------------------------------


def test_the_traits_passes_ask():
    for cls in (RandomNormal, RandomUniform, RandomBernoulli):
        assert issubclass(cls, Draw) and cls.stateful and not cls.foldable and not cls.differentiable
    assert not gc.Op.stateful


def test_two_draws_are_never_merged_and_one_draw_used_twice_is_one_node():
    rng = gc.random.Generator(29)
    a, b = rng.normal((3,)), rng.normal((3,))
    f = gc.compile([a, b, a + a])
    ops = [v.owner.op for v in f.graph.variables if v.owner is not None and isinstance(v.owner.op, Draw)]
    assert len(ops) == 2
    va, vb, twice = f()
    assert not np.array_equal(va, vb)
    np.testing.assert_array_equal(twice, 2 * va)


def test_draws_from_a_constant_state_are_not_folded():
    # a draw whose every input is constant (explicit keys, JAX's way) still runs at each call
    z = RandomNormal(3, 0, (2,), np.dtype("float64"))(gc.constant(np.int64(4)))
    f = gc.compile(z)
    assert any(isinstance(v.owner.op, Draw) for v in f.graph.variables if v.owner is not None)
    np.testing.assert_array_equal(f(), _stream(3, 0, 4).standard_normal(2))


def test_many_draws_rolled_into_a_loop_keep_their_own_streams():
    rng = gc.random.Generator(30)
    x = gc.Variable("x", (4,))
    h = x
    for _ in range(300):
        h = gc.tanh(h + rng.normal((4,), std=0.1))
    rolled = gc.compile(h, [x], loops=True)
    plain = gc.compile(h, [x], loops=False)
    assert "for " in rolled.source
    with gc.random.frozen():
        np.testing.assert_allclose(rolled(np.zeros(4)), plain(np.zeros(4)), rtol=1e-12)
        np.testing.assert_allclose(rolled(np.zeros(4)), gc.evaluate(h, {x: np.zeros(4)}), rtol=1e-12)


def test_the_numba_backend_runs_draws():
    pytest.importorskip("numba")
    rng = gc.random.Generator(31)
    x = gc.Variable("x", (None,))
    y = gc.exp(x) * gc.nn.dropout(x, 0.5, rng) + 1.0
    f = gc.compile(y, [x], backend="numba")
    with gc.random.frozen():
        np.testing.assert_allclose(f(np.arange(6.0)), gc.evaluate(y, {x: np.arange(6.0)}), rtol=1e-12)
    assert not np.array_equal(f(np.arange(6.0)), f(np.arange(6.0)))
