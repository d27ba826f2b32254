"""``--per-series``: one single-series model per series, each an ordinary bundle inside one folder.

Layout: ``<folder>/<slug>/`` (a bundle made by ``pipeline.train``) for every series, ``series_index.json``
(ids, their sub-folders, test metrics) and a ``manifest.json`` marking the folder as a set of bundles.
Each series is written to a temporary CSV and trained by the single-series pipeline unchanged, so a
sub-bundle's data.json fingerprints that temporary file, not the original. The series train one after
another, or on an executor's workers (a process pool or a local Ray: they write into this machine's
temporary folder), with the same results: every fit seeds itself.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pandas as pd

from forecast import bundle as bundle_io
from forecast.errors import InputError
from forecast.executors import SEQUENTIAL

INDEX = bundle_io.SET_INDEX
SET_FORMAT = "forecast-bundle-set"


def slug(sid: str) -> str:
    """A file-name-safe form of a series id."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", str(sid)) or "_"


def is_set(path: Path) -> bool:
    return (Path(path) / INDEX).is_file()


def train_one(task: tuple[Path, dict, Path, int]) -> tuple[dict, str]:
    """Train one series' bundle (in any process on this machine); its test metrics and device."""
    from forecast.config import RunConfig
    from forecast.workflows.train import train

    csv, cfg, out, verbose = task
    outcome = train(csv, RunConfig.from_dict(cfg), out, verbose=verbose)
    return outcome.metrics["test"], outcome.device


def train_each(panel, data_path, cfg, bundle_dir: Path, force: bool, verbose: int, executor=SEQUENTIAL):
    from forecast.models.global_lstm import PanelOutcome, pooled

    if panel.features:
        raise InputError("--per-series trains the single-series model, which takes no --features; "
                         "drop --features or --per-series")
    one = cfg.replace(data={"target": "Close", "date_col": "Date"}).to_dict()
    folders = {s.id: slug(s.id) for s in panel.series}
    if executor.width > 1:
        verbose = 0  # no interleaved progress lines from parallel workers
    with bundle_io.atomic_dir(bundle_dir, force) as tmp, tempfile.TemporaryDirectory() as work:
        tasks = []
        for s in panel.series:
            csv = Path(work) / f"{folders[s.id]}.csv"
            pd.DataFrame({"Date": s.dates, "Close": s.prices}).to_csv(csv, index=False)
            tasks.append((csv, one, tmp / folders[s.id], verbose))
        results = list(executor(train_one, tasks))
        per = {s.id: test for s, (test, _) in zip(panel.series, results)}
        device = results[-1][1]
        metrics = {"test": {"pooled": pooled(per), "series": per}, "skipped": panel.skipped}
        (tmp / INDEX).write_text(json.dumps({"ids": panel.ids, "folders": folders, "source": str(data_path),
                                             "layout": panel.layout, "metrics": metrics}, indent=2) + "\n")
        (tmp / "manifest.json").write_text(json.dumps({"format": SET_FORMAT, "index": INDEX}) + "\n")
    bundle_io.set_latest(bundle_dir)
    return PanelOutcome(Path(bundle_dir), panel, metrics, device)


def predict_each(path: Path, horizon: int | None = None, series_id: str | None = None, levels=()):
    """Forecasts of every series (or one) of a per-series folder, as a global_model.PanelForecast; each
    series' intervals come from its own bundle's calibration (``levels=None``: the default level)."""
    from forecast.models.global_lstm import PanelForecast, pick_ids
    from forecast.workflows.predict import predict

    index = json.loads((Path(path) / INDEX).read_text())
    frames, history, recursive, resolved = [], {}, False, ()
    for sid in pick_ids(index["ids"], series_id):
        fc = predict(bundle_io.load_bundle(Path(path) / index["folders"][sid]), horizon, levels=levels)
        frames.append(fc.frame.assign(id=sid)[["id", *fc.frame.columns]])
        history[sid], recursive, resolved = fc.history, fc.recursive, fc.levels
    return PanelForecast(pd.concat(frames, ignore_index=True), history, recursive, resolved)
