"""Every registered op has the forms each backend and inspector asks it for, or the
backend or inspector names it as one it does not handle: adding an op is a change
to its own module, and a missing form is found here, naming the op and its asker."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import graphcomp as gc  # noqa: F401 - registers every op
from graphcomp.core.traverse import ancestors
from graphcomp.inspect.cost import flops
from graphcomp.ops.base import REGISTRY, Op
from graphcomp.ops.fused import can_fuse
from graphcomp.runtime.backends.jax import JaxBackend  # importable without JAX: its forms are plain functions
from tests.ops.spec import SPECS
from tests.ops.test_spec import _inputs


def _has_forward(cls) -> bool:
    return cls.forward is not Op.forward or cls.fn is not None


def _has_scalar(cls) -> bool:
    return cls.scalar_form is not None or cls.scalar is not Op.scalar


def _has_sympy(cls) -> bool:
    return cls.sympy_function is not None or cls.sympy is not Op.sympy


#: (asker, what it needs, which ops it needs it of, whether an op has it)
NEEDS = [
    ("the NumPy backend (and gc.evaluate)", "a forward", lambda cls: True, _has_forward),
    ("the Numba backend's fused kernels and the Python-float fast path", "a scalar form",
     lambda cls: cls.elementwise and not dataclasses.fields(cls), _has_scalar),
    ("gc.to_sympy", "a SymPy form", lambda cls: cls.elementwise, _has_sympy),
    # a ufunc fn's jax.numpy namesake, or an override keyed by the op's class in graphcomp/runtime/backends/jax.py
    ("the JAX backend", "a JAX form", lambda cls: not issubclass(cls, JaxBackend.unsupported), JaxBackend.has_form),
]  # fmt: skip


@pytest.mark.parametrize("asker, form, needed, has", NEEDS, ids=[n[0] for n in NEEDS])
def test_every_op_has_the_forms_its_askers_need(asker, form, needed, has):
    missing = [
        f"{name} has no {form}, which {asker} needs" for name, cls in REGISTRY.items() if needed(cls) and not has(cls)
    ]
    assert not missing, missing


def test_every_parameterless_elementwise_op_can_be_fused():
    """What the scalar form buys: the fuse pass may put the op in a kernel."""
    assert all(can_fuse(cls) for cls in REGISTRY.values() if cls.elementwise and not dataclasses.fields(cls))


def test_the_checks_above_notice_a_missing_form():
    @dataclasses.dataclass(frozen=True)
    class Bare(Op):  # defined outside graphcomp.ops: not registered
        elementwise = True

    assert not _has_forward(Bare) and not _has_scalar(Bare) and not _has_sympy(Bare)
    assert not JaxBackend.has_form(Bare)

    class NumPyLambda(Bare):  # a fn that is no ufunc: JAX cannot call it
        fn = staticmethod(lambda x: x * x)

    class Ufunc(Bare):  # a ufunc fn: jax.numpy's function of the same name
        fn = np.exp

    assert not JaxBackend.has_form(NumPyLambda) and JaxBackend.has_form(Ufunc)


@pytest.mark.parametrize("s", SPECS, ids=[s.id for s in SPECS])
def test_the_cost_model_prices_every_op(s):
    out = s.build(*_inputs(s))
    for v in ancestors([out]):
        assert flops(v) >= 0
