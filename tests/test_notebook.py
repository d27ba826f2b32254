"""The walkthrough notebook: committed without outputs, and it runs end to end on a tiny setting (nbclient)."""

from __future__ import annotations

import sys

import nbformat

from conftest import NASDAQ, REPO

NOTEBOOK = REPO / "notebooks" / "walkthrough.ipynb"


def parameters_cell(nb) -> int:
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "the notebook needs exactly one cell tagged 'parameters'"
    return tagged[0]


def test_committed_notebook_has_no_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    assert nb.metadata.kernelspec.name == "python3"


def test_notebook_uses_only_the_library_api():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    lines = [line for c in nb.cells if c.cell_type == "code" for line in c.source.splitlines()]
    imports = [line for line in lines if line.startswith(("import ", "from "))]
    assert imports and all(line.startswith("from forecast.") for line in imports)
    assert not any(line.lstrip().startswith(("def ", "class ", "for ", "while ")) for line in lines)


def test_notebook_runs_end_to_end(tmp_path):
    from nbclient import NotebookClient

    tail = tmp_path / "nasdaq_tail.csv"
    tail.write_text("".join(NASDAQ.read_text().splitlines(keepends=True)[:1] +
                            NASDAQ.read_text().splitlines(keepends=True)[-300:]))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells[parameters_cell(nb)].source = "\n".join([
        "import sys",
        f"assert sys.executable == {sys.executable!r}, sys.executable  # the kernel is this venv's Python",
        f"DATA = {str(tail)!r}", f"OUT = {str(tmp_path / 'out')!r}",
        "EPOCHS, WINDOW, HORIZON, LAYERS, SEED = 1, 10, 3, (8,), 7",
        "LEVELS = (0.5, 0.8)",
        "BACKTEST_FOLDS, BACKTEST_MODELS = 2, ('naive', 'drift')  # the LSTM's folds are tested in test_backtest",
    ])
    NotebookClient(nb, kernel_name="python3", timeout=300, allow_errors=False,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    texts = "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "300 rows of 'Adj Close', 2017-10-" in texts and "2018-12-31" in texts
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 4  # curve, fan chart, two backtest charts
    assert "lower_50" in texts and "upper_80" in texts
    report = tmp_path / "out" / "report.html"
    backtest_pngs = sorted(p.name for p in (tmp_path / "out" / "backtest").glob("*.png"))
    assert backtest_pngs == ["coverage_by_horizon.png", "forecasts_by_fold.png", "mae_by_horizon.png",
                             "mase_by_model.png"]
    assert report.read_text().count("data:image/png;base64,") == 2 + len(backtest_pngs)  # bundle + backtest charts
    assert f"PosixPath({str(report)!r})" in texts
