"""One short check of the JAX backend on a GPU (issue #19): run once on a machine with a GPU.

Install and run, from the repository root (a CUDA 12 driver on the machine):

    pip install -e '.[jax]' 'jax[cuda12]'
    python bench/gpu_check.py

It prints the devices JAX sees, compiles one training step of the W2 medium MLP
(B=256, d=784, h=512, q=10: relu, mean softmax cross-entropy, an L2 term; SGD with
momentum; Adam too in float64) with ``backend="jax"``, runs 5 steps on the GPU and the
same 5 steps with the NumPy backend on the CPU, in float64 and in float32, and compares
the losses and the weights; then it times 50 steps on the GPU, and checks that an
out-of-range label is still graphcomp's error there (``--cpu`` runs it all on a CPU,
to try the script). Exit status 1 on any mismatch
(float64: 1e-10 relative to the largest value; float32: 1e-4; matrix products run at
float32's full precision, not TF32), 2 if JAX sees no GPU. Takes well under 3 minutes.
"""

from __future__ import annotations

import sys
import time

import numpy as np


def model(dtype, W1v, W2v, optimizer):
    """The W2 MLP's training step in ``dtype``: (compile(backend) -> step, the Parameters)."""
    import graphcomp as gc

    X, y = gc.Variable("X", (None, W1v.shape[0]), dtype), gc.Variable("y", (None,), "int64")
    W1, W2 = gc.Parameter(W1v.astype(dtype), "W1"), gc.Parameter(W2v.astype(dtype), "W2")
    J = gc.nn.cross_entropy(gc.relu(X @ W1) @ W2, y) + 1e-3 / 2 * ((W1 * W1).sum() + (W2 * W2).sum())
    if optimizer == "sgd":
        updates = gc.optim.sgd(J, [W1, W2], lr=0.1, momentum=0.9)
    else:
        updates = gc.optim.adam(J, [W1, W2], lr=1e-3)
    return (lambda backend: gc.compile(J, [X, y], updates=updates, backend=backend)), (W1, W2)


def relative(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def main() -> int:
    import jax

    import graphcomp as gc

    print("JAX", jax.__version__, "devices:", jax.devices())
    platform = jax.devices()[0].platform
    if jax.devices()[0].platform != "gpu" and "--cpu" not in sys.argv:  # --cpu: try the script itself on a CPU
        print("no GPU: JAX sees only", jax.devices())
        return 2
    rng = np.random.default_rng(0)
    B, d, h, q = 256, 784, 512, 10
    Xv, yv = rng.standard_normal((B, d)), rng.integers(0, q, B)
    W1v, W2v = rng.standard_normal((d, h)) * 0.05, rng.standard_normal((h, q)) * 0.05
    ok = True
    for dtype, tol in (("float64", 1e-10), ("float32", 1e-4)):
        X = Xv.astype(dtype)
        # Adam's early steps move each weight by about lr whatever the gradient's size, so a float32
        # gradient entry near 0 whose sign rounds the other way moves it 2 lr apart: compared in float64 only
        for optimizer in ("sgd", "adam") if dtype == "float64" else ("sgd",):
            runs = {}
            for backend in ("numpy", "jax"):
                build, params = model(dtype, W1v, W2v, optimizer)
                t = time.perf_counter()
                step = build(backend)
                losses = [float(step(X, yv)) for _ in range(5)]
                first = time.perf_counter() - t
                runs[backend] = losses, [p.get_value() for p in params]
                if backend == "jax":
                    where = {str(dev.platform) for dev in params[0].device_value().devices()}
                    print(f"  {dtype} {optimizer}: compile + 5 steps {first:.2f} s; the weights live on {where}")
                    assert runs[backend][1][0].dtype == np.dtype(dtype)
            (l_np, w_np), (l_jx, w_jx) = runs["numpy"], runs["jax"]
            errors = [relative(l_jx, l_np)] + [relative(a, b) for a, b in zip(w_jx, w_np)]
            good = max(errors) <= tol
            ok &= good
            print(
                f"{dtype} {optimizer}: 5 steps, losses {l_jx[0]:.6f} .. {l_jx[-1]:.6f}; largest relative difference "
                f"from NumPy on the CPU {max(errors):.2e} (limit {tol:.0e}): {'ok' if good else 'MISMATCH'}"
            )
        build, params = model(dtype, W1v, W2v, "adam")
        step = build("jax")
        step(X, yv)
        t = time.perf_counter()
        for _ in range(50):
            step(X, yv)
        params[0].device_value().block_until_ready()
        gpu = (time.perf_counter() - t) / 50
        step_np = model(dtype, W1v, W2v, "adam")[0]("numpy")
        step_np(X, yv)
        t = time.perf_counter()
        for _ in range(5):
            step_np(X, yv)
        cpu = (time.perf_counter() - t) / 5
        print(f"{dtype} Adam step: {platform} {gpu * 1e3:.3f} ms (50 steps), NumPy on the CPU {cpu * 1e3:.2f} ms")
    bad = yv.copy()
    bad[7] = q
    try:
        step(Xv.astype("float32"), bad)
        print("an out-of-range label ran without an error: MISMATCH")
        ok = False
    except gc.EvaluationError as e:
        print("an out-of-range label:", str(e).split("; built at")[0][:160])
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
