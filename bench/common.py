"""What every benchmark module shares: one thread everywhere (set before any
numeric library starts its pools, so ``run.py`` imports this module first),
the optional peers, and running code in a fresh Python."""

from __future__ import annotations

import os

# one thread everywhere, before any numeric library starts its pools
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers  # noqa: E402, F401 - the peers' rows, shared by every workload

try:
    import torch  # noqa: E402

    torch.set_num_threads(1)
except ImportError:
    torch = None

try:
    import numba  # noqa: E402, F401 - graphcomp's optional backend

    NUMBA = True
except ImportError:
    NUMBA = False
NUMBA_ROW = "graphcomp compile (Numba)"
#: the Numba backend's whole-function mode: the graph as one njit function (NUMBA_ROW runs it op by op)
NUMBA_WHOLE_ROW = "graphcomp compile (Numba whole)"


def _in_child(code: str, timeout: float | None = None) -> str | None:
    """Run ``code`` in a fresh Python with bench/ importable; its stdout, or None past the timeout."""
    code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n{code}"
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode:
        raise RuntimeError(done.stderr)
    return done.stdout


JAX = peers.jax is not None  # graphcomp's JAX backend rows need it too
JAX_ROW = "graphcomp compile (JAX)"
