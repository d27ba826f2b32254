"""Train end to end, for one series or many: load a panel -> split each series chronologically (for a global
network all at the same dates) -> fit -> score
each series' test part -> calibrate its intervals -> save one bundle.

``cfg.model.fit`` decides the networks: ``global`` (default) trains one LSTM across the series, ``per_series``
one per series (on ``executor``'s workers when given: a process pool or a local Ray). Either way the
bundle has the same files, and every series' statistics come from its own training part.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from forecast import bundle as bundle_io
from forecast.config import RunConfig
from forecast.data import features as feat
from forecast.data.calendar import session_of, stamp_text
from forecast.data.panel import Panel, load_configured, no_usable_series, warn_skipped
from forecast.data.read import fingerprint
from forecast.data.transforms import Preprocessor
from forecast.data.windows import Split, panel_splits, rows_needed
from forecast.errors import ForecastError, InputError
from forecast.evaluation.scoring import (CANDIDATES, MAX_SERIES_WITH_CANDIDATES, baseline_paths, baseline_test_scores,
                                        calibrate_intervals, evaluate_test, pooled)
from forecast.evaluation.verdict import shipped_name
from forecast.models.baselines import seasons_of, shared_fits
from forecast.models.lstm import context_origins, handed_over, hybrid_parts, network_panels, parts_beforehand
from forecast.executors import SEQUENTIAL, Background


@dataclass
class TrainOutcome:
    bundle_dir: Path
    panel: Panel
    metrics: dict
    device: str

    @property
    def interrupted(self) -> bool:
        return any(t.get("interrupted") for t in self.metrics["training"].values())


def load_training_panel(data_path: Path, cfg: RunConfig) -> Panel:
    """The panel ``cfg.data`` describes, every series long enough to split and valid under the transform."""
    d, w = cfg.data, cfg.window
    offset = Preprocessor(w.transform).offset
    many = d.id_col is not None or d.targets is not None  # a series too short to split is skipped, not an error
    need = rows_needed(w.window, w.horizon, w.val_frac, w.test_frac, offset) if many else 0
    panel = load_configured(data_path, d, min_rows=need)
    splits, why = panel_splits_of(panel, cfg)
    if why and not many:
        raise InputError(f"{data_path}: {next(iter(why.values()))}")
    if why:  # a series the panel's cut dates leave too few rows in a part: skipped, as a short one is
        if not splits:
            raise no_usable_series(data_path, why)
        warn_skipped(data_path, why)
        panel = replace(panel, series=tuple(s for s in panel if s.id in splits), skipped={**panel.skipped, **why})
    for s in panel:
        where = f"{data_path}" + ("" if panel.layout == "single" else f" [series {s.id}]")
        try:  # fail before any work, naming the file: e.g. a zero price under log_return
            Preprocessor(w.transform).fit(s.values[:splits[s.id].n_train]).transform(s.values)
        except ForecastError as e:
            raise InputError(f"{where}: {e}") from None
    return panel


def panel_splits_of(panel: Panel, cfg: RunConfig) -> tuple[dict[str, Split], dict[str, str]]:
    """``windows.panel_splits`` of the panel's series under ``cfg``: for a global network every series split at the
    same dates (id -> Split), for a network per series each on its own dates (nothing of one series reaches
    another's fit, as in ``backtest --per-series``); and the series that leave too few rows in a part (id -> why)."""
    w = cfg.window
    groups = [panel] if cfg.model.fit == "global" else [[s] for s in panel]
    splits, why = {}, {}
    for group in groups:
        got, left_out = panel_splits({s.id: s.dates.values for s in group}, w.window, w.horizon, w.val_frac,
                                     w.test_frac, Preprocessor(w.transform).offset)
        splits.update(got)
        why.update(left_out)
    return splits, why


def splits_of(panel: Panel, cfg: RunConfig) -> dict[str, Split]:
    """Each series' train | validation | test split (``panel_splits_of``: at the same dates for a global network)."""
    splits, why = panel_splits_of(panel, cfg)
    if why:  # load_training_panel left out every series it cannot split
        raise ForecastError(f"series {next(iter(why))}: {next(iter(why.values()))}")
    return splits


def fit_networks(panel: Panel, n_val: dict[str, int], cfg: RunConfig, verbose: int, executor=SEQUENTIAL,
                 choices: Iterator[dict] | None = None, progress: Callable[[str], None] | None = None) -> dict:
    """Network key (None: the global one, else a series id) -> fitted LSTMForecaster. ``choices``: each network's
    statistical parts in turn (``lstm.hybrid_parts`` of the series of ``lstm.network_panels``, computed beforehand),
    each drawn when its fit is handed out, so that later ones can still be computing; None: each fit computes its
    own. ``progress`` is told which series' network a one-at-a-time per-series fit starts (its epochs follow)."""
    from forecast.models.lstm import LSTMForecaster

    def draw() -> dict | None:
        return next(choices) if choices is not None else None

    if cfg.model.fit == "global":
        fc = LSTMForecaster(cfg, panel.features, verbose, choices=draw()).fit(panel, [n_val[s.id] for s in panel])
        return {None: fc}
    if executor.width > 1:
        verbose = 0  # no interleaved progress lines from parallel workers
    drawn = []

    def tasks():
        units = network_panels(panel, cfg)
        for i, unit in enumerate(units):
            drawn.append(draw())
            if progress is not None and verbose and executor.width == 1:  # pulled as the fit before it ends
                progress(f"series {unit.ids[0]} ({i + 1} of {len(units)})")
            yield cfg.to_dict(), unit, n_val[unit.ids[0]], verbose, drawn[-1]

    fits = executor(fit_series, tasks())  # zipped first: a task is drawn before its result is asked for
    return {s.id: fitted.restore(cfg, panel.features, chosen_parts(drawn[i]))
            for i, (fitted, s) in enumerate(zip(fits, panel))}


def fit_series(task: tuple[dict, Panel, int, int, dict | None]):
    """Fit one series' own network (in any process on this machine or a Ray worker); returns it picklable."""
    from forecast.models.lstm import LSTMForecaster

    cfg, panel, n_val, verbose, choices = task
    fc = LSTMForecaster(RunConfig.from_dict(cfg), panel.features, verbose, choices=choices).fit(panel, [n_val])
    fitted = Fitted(fc.model.get_weights(), fc.state(), fc.fit_result)
    fc.release()  # the network goes to the next series' fit in this process
    return fitted


@dataclass
class Fitted:
    """What a worker sends back: weights, per-series statistics, fit summary (a Keras model does not pickle)."""

    weights: list
    state: dict
    fit_result: object

    def restore(self, cfg: RunConfig, features, parts: dict | None = None):
        """The fitted forecaster; ``parts``: the statistical parts its fit was handed, with every forecast they
        have run, in place of the bare copies in ``state`` (which would fit and run them again)."""
        from forecast.models.lstm import LSTMForecaster, input_width
        from forecast.models.network import build_model

        model = build_model(cfg, n_features=input_width(features, self.state))
        model.set_weights(self.weights)
        fc = LSTMForecaster.restore(cfg, features, model, self.state)
        fc.stats.update(parts or {})
        fc.fit_result = self.fit_result
        return fc


WAIT_NOTICE_S = 1.0  # train tells ``progress`` what it waits for when the statistical work is not ready by then


def train(data_path: Path, cfg: RunConfig, model_dir: Path | None = None, force: bool = False,
          verbose: int = 1, executor=SEQUENTIAL, progress: Callable[[str], None] | None = None) -> TrainOutcome:
    """Train the networks ``cfg`` describes on ``data_path`` and save one bundle (see the module docstring).
    ``progress``, if given, is told in a sentence what the run waits for when it waits on the statistical models."""
    from forecast.models.fitting import configure_device

    bundle_dir = Path(model_dir) if model_dir else bundle_io.default_dir(data_path)
    bundle_io.remove_stale_temps(bundle_dir, older_than=time.time())  # left by killed earlier runs
    bundle_io.check_writable(bundle_dir, force)  # fail before any work
    panel = load_training_panel(data_path, cfg)
    splits = splits_of(panel, cfg)
    heads = panel.map(lambda s: s.head(splits[s.id].n_train + splits[s.id].n_val))  # the test parts stay unseen
    n_val = {sid: sp.n_val for sid, sp in splits.items()}
    # forked before TensorFlow loads: the hybrid's statistical parts, each network's needed before its fit, then,
    # niced, the baselines' forecasts, needed after the fits (they leave the cores to them)
    units = parts_units(heads, cfg)
    statistics = Background(statistical_work, panel, heads, splits, cfg, nice=(0,) * len(units) + (10,))

    def waited(what: str):  # the next stage of the statistical work, saying so when it keeps the run waiting
        if progress is not None and statistics.waiting(WAIT_NOTICE_S):
            progress(f"waiting for {what}")
        return statistics.result()

    try:
        device = configure_device(cfg.train.device)
        mode = cfg.model.hybrid
        if mode == "auto":
            hybrid = "--hybrid auto's choice of a statistical model (the candidates fitted on the training rows, the " \
                     "one chosen run from every row)"
        else:
            hybrid = f"--hybrid {mode}'s forecasts from every row (the model fitted on the training rows)"
        taken = {}

        def handed() -> Iterator[dict]:  # each network's parts, as the fits draw them
            for unit in units:
                choices = waited(hybrid if cfg.model.fit == "global" else f"{hybrid} for series {unit.ids[0]}")
                taken.update(choices)
                yield choices

        fitted = fit_networks(heads, n_val, cfg, verbose, executor, handed() if units else None, progress)
        origins = sum(len(sp.test_origins) for sp in splits.values())
        parts = chosen_parts(taken)
        whose = "statistical baselines'"
        if parts:
            named = f" {'/'.join(sorted({p.name for p in parts.values()}))}" if mode == "auto" else ""
            whose += f" and --hybrid {mode}'s{named}"
        baselines, known = waited(f"the {whose} forecasts from {origins:,} test origins, to score the network against")
        for sid, part in parts.items():  # computed in the forked process from the test origins
            part.computed.update(known[sid])
        per, frames, entries = score_panel(panel, splits, fitted, cfg, baselines)
    finally:
        statistics.close()
    training = {bundle_io.network_file(k): {n: v for n, v in f.fit_result.to_dict().items() if n != "history"}
                for k, f in fitted.items()}
    metrics = {"test": {"series": per, "pooled": pooled(per)}, "training": training, "skipped": panel.skipped,
               "fit": cfg.model.fit}
    history = {bundle_io.network_file(k): {"history": f.fit_result.history, "best_epoch": f.fit_result.best_epoch,
                                           "epochs_run": f.fit_result.epochs_run} for k, f in fitted.items()}
    data = {**fingerprint(data_path), "layout": panel.layout, "target": panel.target, "date_col": panel.date_col,
            "n_series": len(panel), "freq": panel.series[0].freq, "rows": sum(len(s) for s in panel),
            "first_date": stamp_text(min(s.dates[0] for s in panel)),
            "last_date": stamp_text(max(s.dates[-1] for s in panel)),
            "n_filled": sum(s.n_filled for s in panel)}
    spec = {"fit": cfg.model.fit, "layout": panel.layout, "target": panel.target, "features": list(panel.features),
            "inputs": ["target", *feat.input_names(panel.features)], "ids": panel.ids, "skipped": panel.skipped,
            "series": entries}
    bundle_io.save_bundle(bundle_dir, networks={bundle_io.network_file(k): f.model for k, f in fitted.items()},
                          config=cfg, series=spec, last_window=last_windows(panel, fitted), data=data, metrics=metrics,
                          history=history, test_predictions=pd.concat(frames, ignore_index=True), device=device,
                          force=force, interrupted=any(f.fit_result.interrupted for f in fitted.values()))
    return TrainOutcome(bundle_dir, panel, metrics, device)


def statistical_work(panel: Panel, heads: Panel, splits: dict[str, Split], cfg: RunConfig) -> Iterator:
    """What the fits need of the statistical models, then what the scoring needs, in stages (no TensorFlow): where
    ``parts_beforehand``, each network's statistical parts (``lstm.hybrid_parts`` on its series of ``heads``, the
    series without their test parts: ``--hybrid auto``'s choices, or the named model's fits), one stage for the
    global network or one per series; then ``baseline_forecasts`` and the parts' ``scoring_paths``. Auto and the
    baselines fit AutoARIMA, AutoETS, AutoTheta and MSTL on the same training rows: ``shared_fits`` fits each once
    (and is open only while a stage computes). The parts are handed over without their statsforecast models
    (``lstm.handed_over``): with the forecasts of both stages, the process that fits the networks asks for no
    other, so it need not import statsforecast."""
    fits, chosen = {}, {}
    for unit in parts_units(heads, cfg):
        with shared_fits(fits):
            choices = hybrid_parts(unit, [splits[s.id].n_val for s in unit], cfg.window.horizon, cfg.model.hybrid)
        chosen.update(choices)
        yield handed_over(choices)
    with shared_fits(fits):
        found = baseline_forecasts(panel, splits, cfg)
    yield found, scoring_paths(panel, chosen_parts(chosen), cfg)


def parts_units(heads: Panel, cfg: RunConfig) -> list[Panel]:
    """The series whose statistical parts ``statistical_work`` hands over, a stage per entry (each network's,
    ``lstm.network_panels``), where ``parts_beforehand``; none otherwise. ``train`` counts the stages by it."""
    return network_panels(heads, cfg) if parts_beforehand(cfg) else []


def chosen_parts(choices: dict | None) -> dict:
    """Series id -> its statistical part in ``choices`` (``hybrid_parts``), where it has one."""
    return {sid: part for sid, (part, _) in (choices or {}).items() if part is not None}


def scoring_paths(panel: Panel, parts: dict, cfg: RunConfig) -> dict[str, dict]:
    """Per series with a statistical part: its forecasts that ``hybrid_parts`` did not compute, as
    ``StatisticalPart.computed`` entries for the scoring and the bundle to reuse: from the origins of the test
    part, and from those a forecast after the series' end reads over the rows the bundle stores
    (``lstm.context_origins``)."""
    known, h, offset = {}, cfg.window.horizon, Preprocessor(cfg.window.transform).offset
    for s in panel:
        if s.id in parts:
            part = parts[s.id]
            before = set(part.computed)
            part.paths(s.values, np.arange(len(s)), h)
            part.paths(*context_origins(s.values, cfg, offset, part), h)
            known[s.id] = {k: v for k, v in part.computed.items() if k not in before}
    return known


def baseline_forecasts(panel: Panel, splits: dict[str, Split], cfg: RunConfig) -> dict[str, dict]:
    """Per series, scoring.baseline_paths at its validation and test origins (statistical candidates for at
    most MAX_SERIES_WITH_CANDIDATES series)."""
    offset = Preprocessor(cfg.window.transform).offset
    candidates = CANDIDATES if len(panel) <= MAX_SERIES_WITH_CANDIDATES else ()
    return {s.id: baseline_paths(s, splits[s.id].n_train, splits[s.id].val_origins + offset,
                                 splits[s.id].test_origins + offset, cfg.window.horizon, seasons_of(s),
                                 candidates) for s in panel}


def score_panel(panel: Panel, splits: dict[str, Split], fitted: dict, cfg: RunConfig, baselines: dict):
    """Per series: test metrics (with interval coverage and ``baselines``' scores), its test frame, and its
    series.json entry."""
    offset = Preprocessor(cfg.window.transform).offset
    per, frames, entries = {}, [], []
    for s in panel:
        key = None if None in fitted else s.id
        fc, sp = fitted[key], splits[s.id]
        test_o, val_o = sp.test_origins + offset, sp.val_origins + offset
        test_f = fc.predict_origins(s, test_o)  # (n, h)
        hybrid, weight = fc.hybrid_summary(s.id), fc.weights.get(s.id)
        m, frame = evaluate_test(test_f, s, test_o, sp.n_train, who=shipped_name(hybrid, weight))
        m["transform"] = {"used": fc.preps[s.id].kind, "why": fc.preps[s.id].chosen_because_}
        if hybrid:
            m["hybrid"] = hybrid
        if weight is not None:
            m["network_weight"] = weight
        fc.remember_context(s)  # the bundle serves forecasts from its stored rows without a statistical fit
        cal, m["intervals"] = calibrate_intervals(fc.predict_origins(s, val_o), s, val_o, fc.preps[s.id].kind, frame,
                                                  test_o)
        m["baselines"] = baseline_test_scores(s, sp.n_train, test_o, cfg.window.horizon, baselines[s.id], test_f)
        m["split"] = {"train_rows": sp.n_train, "val_rows": sp.n_val, "test_rows": sp.n_test,
                      "train_end": stamp_text(s.dates[sp.n_train - 1]),
                      "val_end": stamp_text(s.dates[sp.n_train + sp.n_val - 1])}
        per[s.id] = m
        frames.append(frame.assign(id=s.id)[["id", *frame.columns]])
        entries.append({"id": s.id, "network": bundle_io.network_file(key),
                        "chart": bundle_io.chart_file(s.id, panel.named), "freq": s.freq,
                        "session": session_of(s.dates), "rows": len(s),
                        "first_date": stamp_text(s.dates[0]), "last_date": stamp_text(s.dates[-1]),
                        "n_filled": s.n_filled,
                        **fc.state()[s.id], "intervals": cal.to_dict()})
    return per, frames, entries


def last_windows(panel: Panel, fitted: dict) -> pd.DataFrame:
    """id, date, price and the raw covariates of each series' last rows: the last input window, or the prices
    a residual hybrid's statistical model runs over (LSTMForecaster.context_rows)."""
    names = feat.input_names(panel.features)
    frames = []
    for s in panel:
        keep = fitted[None if None in fitted else s.id].context_rows(s.id)
        frames.append(pd.DataFrame({"id": s.id, "date": s.dates[-keep:], "price": s.values[-keep:],
                                    **{n: s.features[-keep:, j] for j, n in enumerate(names)}}))
    return pd.concat(frames, ignore_index=True)
