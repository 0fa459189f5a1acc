"""Benchmarks. For each workload every system must first compute the same numbers
as the hand-written reference; then the table gives medians and ratios to that
reference, measured in the same run, single-threaded (``make bench`` pins BLAS
and OpenMP to one thread; PyTorch is told too). The systems are timed in
interleaved rounds and a ratio is the median of the ratios within a round, so
a shared machine's drift cancels out of it (the medians still move with it).
"graphcomp compile (Numba)" is ``gc.compile(..., backend="numba")``, "graphcomp compile (JAX)"
``gc.compile(..., backend="jax")`` (CPU here, beside "JAX jit": JAX's jit of hand-written JAX code).

W1 scalar: the lecture's y = exp(xz) + xz/log(x) + sin(log(x))/(xz) at x=2,
   z=3 with dy/dx and dy/dz; reference: the hand derivation in plain Python. One row
   set per argument type: Python floats, np.float64, np.float32, 0-d arrays.
W2 mlp: 1-hidden-layer MLP, relu, mean softmax cross-entropy, L2 term; J and the
   gradients of both weights, small and medium; reference: the lectures' closed forms.
   Beside gc.nn.cross_entropy on integer labels, the generic forms users write with
   one-hot labels Y: -(Y * log_softmax(Z)).sum(axis=1).mean() and the same with
   log(softmax(Z)), every system writing the same form.
W3 chain: x_{k+1} = tanh(w[k] x_k + b[k]) on a 64-vector, N layers: the time to
   build + grad + compile (fresh process per N), and run time against a hand loop.
   W3 as gc.scan: the same chain as one loop node over (w[k], b[k]); the same two measures.
W4 cnn: x (32, 1, 28, 28) -> conv2d 8 filters 3x3 -> max_pool 2 -> relu ->
   linear to 10 -> mean cross-entropy, gradients of both weights; reference:
   a hand-written NumPy im2col implementation.
W5 hvp: Hessian-vector product of the n=1000 Rosenbrock function; reference: its closed form.
W6 rnn: the book's recurrent network (section 10.2), B=32, hidden 128, input 64, T = 100 and
   1000, one gc.scan node: its loss and the five weights' gradients; reference: a hand-written
   NumPy back-propagation through time; PyTorch (eager loop) and JAX (lax.scan under jit) rows.
W7 adam: one training step of W2's medium MLP with Adam (cost, gradients, update of both
   weights and the moments); reference: the closed-form gradients and torch.optim.Adam's
   rule written in NumPy; PyTorch's row is autograd + torch.optim.Adam.

``python bench/run.py whole``: W2 small's table and the time ``gc.compile`` takes in the
Numba backend's whole-function mode, with an empty cache and with one another process filled.

``python bench/run.py conv``: the convolution and pooling ops alone, per shape, each op's
NumPy form against the Numba backend's choice and PyTorch's kernel.

PyTorch rows run when torch is installed (``pip install 'graphcomp[bench]'``),
otherwise they say "not installed".
"""

from __future__ import annotations

import platform
import sys

import common  # noqa: F401 - first: it pins every library to one thread before they load
import numpy as np
from common import NUMBA, NUMBA_ROW, peers, torch  # noqa: F401 - the benchmark's public names
from conv import conv_kernels  # noqa: F401
from harness import disagreeing, interleaved, run  # noqa: F401
from w1 import W1_ARGUMENTS, w1_hand, w1_systems  # noqa: F401
from w2 import (  # noqa: F401
    W2_FORMS,
    W2_FORMS_WRITTEN,
    W2_HAND_ARRAY_OPS,
    w2_function,
    w2_generic_function,
    w2_generic_systems,
    w2_hand,
    w2_op_counts,
    w2_peak_memory,
    w2_systems,
    w2_whole_compile_times,
)
from w3 import w3, w3_build, w3_data, w3_hand, w3_peers, w3_prepare, w3_prepare_in_child, w3_scan  # noqa: F401
from w4 import w4_data, w4_function, w4_hand, w4_systems  # noqa: F401
from w5 import w5_hand, w5_systems  # noqa: F401
from w6 import w6, w6_build, w6_data, w6_hand, w6_prepare  # noqa: F401
from w7 import HandAdam, w7_function, w7_systems  # noqa: F401
from wjax import jax_compile_times, w2_data_parallel  # noqa: F401


def main() -> int:
    print(
        f"machine: {platform.machine()}, {platform.system()}, Python {platform.python_version()}, "
        f"NumPy {np.__version__}, PyTorch {torch.__version__ if torch else 'not installed'}, "
        f"{peers.versions()}; single-threaded"
    )
    ok = True
    for arguments in W1_ARGUMENTS:
        ok &= run(f"W1 scalar: the seed example's y, dy/dx, dy/dz at x=2, z=3 ({arguments})", w1_systems(arguments))
    for size, dims in (("small", (32, 64, 128, 10)), ("medium", (256, 784, 512, 10))):
        ok &= run(f"W2 mlp {size} {dims}: J, dJ/dW1, dJ/dW2, gc.nn.cross_entropy", w2_systems(*dims))
        for form in W2_FORMS:
            loss = W2_FORMS_WRITTEN[form]
            ok &= run(f"W2 mlp {size}, one-hot labels, {loss}", w2_generic_systems(*dims, form=form))
    w2_peak_memory()
    w2_op_counts()
    w2_whole_compile_times()
    ok &= run("W4 cnn: conv 8x3x3 -> max_pool 2 -> relu -> linear 10 -> cross-entropy, batch 32", w4_systems())
    ok &= run("W5 hvp: Hessian-vector product of the n=1000 Rosenbrock function", w5_systems())
    ok &= run("W7 adam: one Adam training step of the W2 medium MLP (B=256, d=784, h=512, q=10)", w7_systems())
    jax_compile_times()
    w2_data_parallel()
    ok &= w6()
    ok &= w3_scan()
    ok &= w3()
    w3_peers()
    return 0 if ok else 1


def loops() -> int:
    """Only the loop workloads (``python bench/run.py loops``): W3 as a scan and W6."""
    ok = w3_scan()
    ok &= w6()
    return 0 if ok else 1


def whole() -> int:
    """Only W2 small with the whole-function Numba mode (``python bench/run.py whole``): its run
    time against the peers, and its compile times with an empty and a filled cache."""
    ok = run("W2 mlp small (32, 64, 128, 10): J, dJ/dW1, dJ/dW2, gc.nn.cross_entropy", w2_systems(32, 64, 128, 10))
    w2_whole_compile_times()
    return 0 if ok else 1


if __name__ == "__main__":
    modes = {"loops": loops, "conv": conv_kernels, "whole": whole}
    sys.exit(modes.get(sys.argv[1] if len(sys.argv) == 2 else "", main)())
