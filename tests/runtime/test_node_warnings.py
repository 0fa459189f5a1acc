"""NumPy's RuntimeWarnings raised while running name the node and the user's
line, in evaluate and in compiled code; in Jupyter a creation site names the
cell as the notebook shows it, ``In [5] line 3`` (issue 14, item 16)."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import graphcomp as gc


def _line() -> int:
    """The caller's line number."""
    return inspect.currentframe().f_back.f_lineno


def _runs(outputs, inputs, values):
    feed = dict(zip(inputs, values))
    yield lambda: gc.evaluate(outputs, feed)
    yield lambda: gc.compile(outputs, inputs)(*values)
    yield lambda: gc.compile(outputs, inputs, passes=[])(*values)
    yield lambda: gc.compile(outputs, inputs, check_finite=False, loops=True)(*values)


def _caught(run) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", gc.NodeWarning)  # not for RuntimeWarning: that one would come first
        run()
    return caught


@pytest.mark.parametrize(
    "build, numpy_fn, value",
    [
        (gc.log, np.log, -1.0),
        (gc.sqrt, np.sqrt, -4.0),
        (lambda x: 1.0 / x, lambda a: 1.0 / a, 0.0),
        (gc.exp, np.exp, 1000.0),
    ],
)
def test_a_numpy_warning_names_the_node_and_the_line_that_built_it(build, numpy_fn, value):
    with warnings.catch_warnings(record=True) as direct:  # the oracle: NumPy's own warning for the same value
        warnings.simplefilter("always")
        numpy_fn(np.array([1.0, value]))
    assert len(direct) == 1
    numpy_text = str(direct[0].message)
    x = gc.Variable("x", (2,))
    y = build(x)
    here = build.__code__.co_firstlineno if build.__name__ == "<lambda>" else _line() - 1  # where y was built
    for run in _runs(y * 2.0, [x], [np.array([1.0, value])]):
        caught = _caught(run)
        assert len(caught) == 1, [str(w.message) for w in caught]
        w = caught[0]
        assert isinstance(w.message, gc.NodeWarning) and issubclass(w.category, RuntimeWarning)
        assert w.message.node is y and w.message.text == numpy_text
        assert str(w.message) == f"{numpy_text} (node {y.owner.op.label()}, built at test_node_warnings.py:{here})"
        assert (w.filename, w.lineno) == (__file__, here)  # shown at the user's line, not inside graphcomp


def test_a_warning_inside_a_rolled_loop_names_that_iterations_node():
    w = gc.Variable("w", (None,))
    terms = []
    for k in range(30):
        terms.append(gc.log(w[k] + 2.0))
    here = _line() - 1
    f = gc.compile(gc.stack(terms).sum(), [w], loops=True)
    assert "for _t" in f.source
    values = np.zeros(30)
    values[17] = -3.0  # only iteration 17 takes a log of a negative
    caught = _caught(lambda: f(values))
    assert len(caught) == 1
    node = caught[0].message.node  # a node of f.graph, the optimised copy: log(w[17] + 2)
    assert node.owner.op.name == "log" and caught[0].lineno == here
    assert node.owner.inputs[0].owner.inputs[0].owner.op.label() == "getitem[17]"


def test_the_users_own_numpy_warnings_are_left_alone():
    caught = _caught(lambda: np.log(np.array([-1.0])))
    assert len(caught) == 1 and caught[0].category is RuntimeWarning and caught[0].filename == __file__


def test_a_warnings_filter_set_to_error_raises_an_error_naming_the_node():
    x = gc.Variable("x", (2,))
    y = gc.log(x)
    for run in _runs(y, [x], [np.array([1.0, -1.0])]):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(RuntimeWarning, match="invalid value encountered in log") as e:
                run()
        assert isinstance(e.value, gc.EvaluationError) and e.value.node is y


def test_an_ignore_filter_is_obeyed():
    x = gc.Variable("x", (2,))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore", RuntimeWarning)
        gc.evaluate(gc.log(x), {x: np.array([1.0, -1.0])})
    assert caught == []


def test_by_default_each_nodes_warning_shows_once():
    x = gc.Variable("x", (2,))
    y = gc.log(x)
    f = gc.compile(y, [x])
    with warnings.catch_warnings(record=True) as caught:  # no filter of the test's own: the default action
        for _ in range(5):
            f(np.array([1.0, -1.0]))
    assert len(caught) == 1 and caught[0].message.node is y


# -- Jupyter ------------------------------------------------------------------------------------------------------


@pytest.fixture
def shell():
    pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    sh = InteractiveShell.instance(config=config)
    yield sh
    InteractiveShell.clear_instance()


def test_a_node_built_in_an_ipython_cell_names_the_cell(shell):
    shell.run_cell("import graphcomp as gc, numpy as np", store_history=True)
    result = shell.run_cell("x = gc.Variable('x', (2,))\n\ny = gc.log(x)\n", store_history=True)
    assert result.success
    site = shell.user_ns["y"].site
    # the oracle: IPython's own name for the cell, as its tracebacks print it ("Cell In[2], line 3")
    kind, cell = shell.compile.format_code_name(site.filename)
    assert str(site) == f"In [{cell[3:-1]}] line 3"
    assert str(shell.user_ns["x"].site) == f"In [{cell[3:-1]}] line 1"
    caught = _caught(lambda: shell.run_cell("gc.evaluate(y, {x: np.array([1.0, -1.0])})", store_history=True))
    n = cell[3:-1]
    assert [str(w.message) for w in caught] == [
        f"invalid value encountered in log (node log, built at In [{n}] line 3)"
    ]


def test_a_real_jupyter_kernel_names_the_cell_by_its_execution_count():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import graphcomp as gc"),
        nbformat.v4.new_code_cell("x = gc.Variable('x')\ny = gc.exp(x)\nprint(y.site)"),
    ]
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    cell = nb.cells[1]
    printed = "".join(o.get("text", "") for o in cell.outputs).strip()
    assert printed == f"In [{cell.execution_count}] line 2"
