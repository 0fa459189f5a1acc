"""The worked examples in docs/architecture.md run as written: adding an op and a
backend outside the package, then differentiating, compiling and inspecting them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_doc_has_its_three_worked_examples():
    assert len(BLOCKS) == 3


@pytest.mark.parametrize("code", BLOCKS, ids=["an elementwise op", "a reduction", "a backend"])
def test_each_worked_example_runs(code):
    exec(compile(code, str(DOC), "exec"), {"__name__": "architecture_example"})
