"""The HTML report: one self-contained file (inline CSS, PNG charts as data URIs, no JavaScript).

It shows what a model bundle and/or a backtest folder hold: the data, the settings, the training
curve, the forecast fan chart, the test-part and backtest scoreboards with the verdict in plain
words, interval coverage, the lag diagnostic and the environment. A section whose data is absent
says so and names the command that produces it. All text taken from files is HTML-escaped.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import platform
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from forecast.data.calendar import stamp_text, stamps_text
from forecast.errors import DifferentDataWarning, ForecastError
from forecast.evaluation.intervals import calibrated_text, range_sentence
from forecast.evaluation.verdict import display_order, heading_name, ranking_of, text_of
from forecast.io import atomic_write_text, check_can_write, figure_png, known

SCORE_KEYS = ("mae", "rmse", "mape", "smape", "mase", "directional_accuracy", "skill_vs_naive")
PERCENT_KEYS = {"mape", "smape"}  # already in percent
SHARE_KEYS = {"skill_vs_naive", "directional_accuracy", "coverage"}  # fractions shown as percent
FAN_LEVELS = (0.5, 0.8, 0.95)
BACKTEST_HINT = "run `forecast backtest DATA --out DIR` and pass `--backtest DIR`"
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:1120px;margin:0 auto;padding:24px 32px 48px;background:#fff}
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.2em;margin:32px 0 8px;padding-bottom:4px;border-bottom:2px solid #dde2ea}
h3{font-size:1em;margin:18px 0 6px}.meta{color:#5a6475;font-size:.9em;margin:0 0 12px}
table{border-collapse:collapse;margin:6px 0 12px;font-size:.9em}
th,td{border:1px solid #dde2ea;padding:4px 10px;text-align:right}th{background:#eef1f6}
td:first-child,th:first-child{text-align:left}tr.hl td{background:#fff7e0;font-weight:600}
table.kv td:first-child{color:#5a6475}table.kv td{text-align:left}
.verdict{font-size:1.05em;padding:10px 14px;border-left:4px solid #2f6fdf;background:#eef4ff;margin:8px 0}
.verdict.bad{border-color:#d9822b;background:#fff4e6}.missing{color:#8a5a00;font-style:italic}
figure{margin:8px 0 16px}figure img{max-width:100%;height:auto;border:1px solid #dde2ea}
figcaption{color:#5a6475;font-size:.85em}code{background:#eef1f6;padding:1px 4px;border-radius:3px}
.grid{display:flex;flex-wrap:wrap;gap:24px}
"""


# ------------------------------------------------------------------------------- HTML helpers


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


# Human labels for the keys of metrics.json and config.json (the rest: underscores become spaces).
LABELS = {"mae": "MAE", "rmse": "RMSE", "mape": "MAPE", "smape": "sMAPE", "mase": "MASE",
          "directional_accuracy": "direction right", "skill_vs_naive": "skill vs naive", "epochs_run": "epochs run",
          "best_epoch": "best epoch", "best_val_loss": "best validation loss", "stopped_early": "stopped early",
          "train_rows": "training rows", "val_rows": "validation rows", "test_rows": "test rows",
          "train_end": "training part ends", "val_end": "validation part ends", "val_frac": "validation share",
          "test_frac": "test share", "max_fill": "longest gap it may fill (--max-fill)", "date_col": "date column",
          "id_col": "id column", "lstm_config": "LSTM settings", "n_filled": "missing values filled",
          "sha256": "SHA-256", "dm_test": "Diebold-Mariano test", "p_value": "p-value", "n": "origins compared",
          "save_on_interrupt": "save on Ctrl-C", "fit": "fit", "layers": "units per layer"}
CAPTIONS = {  # what to look for in each backtest chart
    "forecasts_by_fold": "Each fold's forecasts against the actual prices: a model that only lags the turns is "
                         "repeating the last price.",
    "mae_by_horizon": "MAE per forecast step: errors grow with the step; a model below naive at every step is "
                      "better at every distance, not on average only.",
    "mase_by_model": "MASE per model (lower is better), the naive model's as the reference line.",
    "coverage_by_horizon": "Interval coverage per step against the nominal level: below it the bands are too "
                           "narrow, above it too wide.",
}


def label(key: str) -> str:
    """``lstm_config.train.epochs`` -> ``LSTM settings › train › epochs``."""
    return " › ".join(LABELS.get(part, part.replace("_", " ")) for part in str(key).split("."))


def fmt(value: Any, key: str = "") -> str:
    """A cell: numbers of 1 or more with 2 decimals, smaller ones with 4 significant digits; seconds with one."""
    if isinstance(value, bool) or value is None:
        return esc("—" if value is None else ("yes" if value else "no"))
    if isinstance(value, (int, float)):
        if value != value:  # NaN
            return "—"
        if isinstance(value, int):
            return f"{value:,}"
        words = set(re.split(r"[. ]", key))
        if words & {"seconds", "seconds_total"}:
            return f"{value:,.1f} s" if value >= 0.05 else "&lt; 0.1 s"  # an HTML cell
        if words & PERCENT_KEYS:
            return f"{value:,.2f}%"
        if words & SHARE_KEYS:
            return f"{value:+.1%}" if "skill_vs_naive" in words else f"{value:.1%}"
        return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.4g}"
    return esc(value)


def table(headers: Iterable[str], rows: Iterable[Iterable[Any]], keys: Iterable[str] | None = None,
          highlight: Iterable[int] = ()) -> str:
    """An HTML table; ``keys`` (one per column) choose the number format of each cell."""
    headers = list(headers)
    keys = list(keys) if keys is not None else [""] * len(headers)
    hl = set(highlight)
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        ('<tr class="hl">' if i in hl else "<tr>") + "".join(f"<td>{fmt(v, k)}</td>" for v, k in zip(row, keys))
        + "</tr>" for i, row in enumerate(rows))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def flatten(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested dicts as (dotted key, scalar) pairs; short lists of scalars joined, long ones counted."""
    if isinstance(obj, dict):
        return [pair for k, v in obj.items() for pair in flatten(v, f"{prefix}.{k}" if prefix else str(k))]
    if isinstance(obj, list):
        if all(not isinstance(v, (dict, list)) for v in obj) and len(obj) <= 12:
            return [(prefix, ", ".join(fmt(v) if not isinstance(v, str) else v for v in obj))]
        return [(prefix, f"{len(obj)} entries")]
    return [(prefix, obj)]


def kv_table(obj: dict) -> str:
    rows = "".join(f"<tr><td>{esc(label(k))}</td><td>{fmt(v, k)}</td></tr>" for k, v in flatten(obj))
    return f'<table class="kv"><tbody>{rows}</tbody></table>'


def image(png: bytes, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img alt="{esc(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def figure(fig, caption: str) -> str:
    return image(figure_png(fig, dpi=100), caption)


def missing(what: str, hint: str) -> str:
    return f'<p class="missing">{esc(what)} not available: {_code(hint)}.</p>'


def _code(text: str) -> str:
    """Escape, then show `backticked` parts as code."""
    parts = esc(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def section(title: str, *parts: str) -> str:
    return f"<section><h2>{esc(title)}</h2>{''.join(parts)}</section>"


# ------------------------------------------------------------------------------- inputs


@dataclass
class Sources:
    """What the report is made from; any part may be missing."""

    bundle: Any = None  # forecast.bundle.Bundle
    forecast: Any = None  # forecast.workflows.predict.Forecast
    backtest: dict | None = None  # the backtest folder's metrics.json
    backtest_dir: Path | None = None


def load_backtest(path: Path) -> dict:
    path = Path(path)
    f = path / "metrics.json"
    if not f.is_file():
        raise ForecastError(f"--backtest {path}: no metrics.json there; pass a folder written by `forecast backtest`")
    try:
        metrics = json.loads(f.read_text())
    except json.JSONDecodeError as e:
        raise ForecastError(f"{f}: not valid JSON ({e.msg} at line {e.lineno}); run `forecast backtest` again") from None
    if not isinstance(metrics, dict) or not isinstance(metrics.get("models", metrics.get("series")), dict):
        raise ForecastError(f"{f}: has no 'models' scores; pass a folder written by `forecast backtest`")
    return metrics


def gather(model: Path | None = None, backtest: Path | None = None) -> Sources:
    """Load the bundle and the backtest. Without either, the latest bundle; a backtest alone makes a report of its
    own (the latest bundle is not added behind the user's back: it may be of another series)."""
    from forecast.bundle import load_bundle, resolve

    src = Sources()
    if backtest is not None:
        src.backtest, src.backtest_dir = load_backtest(backtest), Path(backtest)
    if model is not None or backtest is None:
        src.bundle = load_bundle(resolve(model), engine="numpy")
        src.forecast = _predict(src.bundle)
    files = _different_files(src)
    if files:
        warnings.warn(DifferentDataWarning(
            f"the backtest ({backtest}) was run on {files[1]} and the bundle ({model}) trained on {files[0]} (or "
            "another version of it): the report puts the two side by side, but they are not the same data"))
    return src


def _different_files(src: Sources) -> tuple[str, str] | None:
    """(the bundle's file, the backtest's) where their SHA-256 differ, else None."""
    if src.bundle is None or not src.backtest:
        return None
    data = (src.backtest.get("settings") or {}).get("data") or {}
    theirs, ours = data.get("sha256"), src.bundle.data.get("sha256")
    if theirs and ours and theirs != ours:
        return str(src.bundle.data.get("path", "?")), str(data.get("path", "?"))
    return None


def _predict(bundle):
    """The trained-horizon forecast, with interval bands at FAN_LEVELS when the bundle is calibrated."""
    from forecast.workflows.predict import predict

    return predict(bundle, levels=FAN_LEVELS)


def _one(bundle) -> dict | None:
    """The test metrics of a single-series bundle (None for several series)."""
    per = bundle.metrics["test"]["series"]
    return next(iter(per.values())) if len(per) == 1 else None


# ------------------------------------------------------------------------------- sections


def _test_sentence(test: dict) -> tuple[str, bool]:
    """The test part in words (the train summary's judgement, console.test_judgement) and whether it favours the
    LSTM: better than naive significantly, and no statistical baseline more accurate."""
    from forecast.evaluation.scoring import beats_significantly
    from forecast.evaluation.verdict import shipped_name
    from forecast.output.console import better_baseline, test_judgement

    judgement = test_judgement(test)
    good = beats_significantly(test) and better_baseline(test) is None
    subject = shipped_name(test.get("hybrid"), test.get("network_weight"))  # the judgement says what it forecasts
    return (f"On the held-out test part ({test.get('first_date', test.get('first_origin'))} .. "
            f"{test.get('last_date')}, {test.get('n_origins')} forecast origins from {test.get('first_origin')} x "
            f"{test.get('horizon')} steps) {subject}'s mean absolute "
            f"error is {fmt(test['lstm']['mae'])} against {fmt(test['naive']['mae'])} for the naive "
            f"last-value forecast (skill {fmt(test.get('skill_vs_naive'), 'skill_vs_naive')}): {judgement}."
            + _evidence(test), good)


def _evidence(test: dict) -> str:
    """Whether the test-part difference is more than noise, and what the one-step forecasts follow."""
    dm, lag = test.get("dm_test") or {}, test.get("lag_diagnostic") or {}
    text = ""
    if known(dm.get("p_value")):  # not tested: too few origins
        text += (f" Diebold-Mariano p = {dm['p_value']:.3g}: "
                 + ("significant." if dm["p_value"] < 0.05 else "not significant, the difference may be noise."))
    if lag.get("message"):
        text += f" Lag diagnostic: {lag['message']}."
    return text


def summary_section(src: Sources) -> str:
    """One verdict: the backtest's when there is one (many refits over many origins), the test part's as context."""
    test = None
    if src.bundle is not None and _one(src.bundle) is not None:
        test, good = _test_sentence(_one(src.bundle))
    elif src.bundle is not None:
        from forecast.evaluation.scoring import pooled_sentence

        p = src.bundle.metrics["test"]["pooled"]
        test, good = f"Test parts of {p['n_series']} series: {pooled_sentence(p)}.", bool(p["n_beats_naive_significantly"])
    backtest = text_of((src.backtest or {}).get("verdict"))
    if backtest:
        parts = [_same_data(src), f'<p class="verdict">The verdict: {esc(backtest)}</p>']
        if test:
            parts.append(f"<p>It is the backtest's, not the test part's, because the backtest refits every model at "
                         f"{esc(_origins(src.backtest))} and compares them with the strong baselines on the same "
                         "dates, while the test part is one stretch of time scored against the naive forecast only. Where the two disagree, the "
                         "test part was a lucky or unlucky period.</p>"
                         f'<p class="meta">Test part of the bundle, for context: {esc(test)}</p>')
        return section("In plain words", *parts)
    if test:
        return section("In plain words", f'<p class="verdict{"" if good else " bad"}">{esc(test)}</p>',
                       missing("A verdict against strong baselines", BACKTEST_HINT))
    return section("In plain words", missing("A verdict", BACKTEST_HINT))


def data_section(src: Sources) -> str:
    if src.bundle is None:
        return section("Data", missing("The data summary", "pass `--model DIR` of a bundle from `forecast train`"))
    d, cfg = src.bundle.data, src.bundle.config
    rows = [("file", d.get("path")), ("sha256", d.get("sha256")), ("rows used", d.get("rows")),
            ("first date", stamp_text(d.get("first_date"))), ("last date", stamp_text(d.get("last_date"))),
            ("frequency", d.get("freq")), ("target column", d.get("target")), ("date column", d.get("date_col")),
            ("missing values forward-filled", f"{d.get('n_filled', 0)} (runs of at most {cfg.data.max_fill}; "
                                              "leading/trailing gaps dropped)")]
    if not src.bundle.single:
        rows.insert(1, ("series", f"{d.get('n_series')} ({d.get('layout')} format)"))
    split = {sid: m.get("split") for sid, m in src.bundle.metrics["test"]["series"].items()}
    shown = next(iter(split.values())) if len(split) == 1 else split
    return section("Data", kv_table(dict(rows)), _skipped(src.bundle.metrics.get("skipped"), "training"),
                   "<h3>Chronological split</h3>" + kv_table(shown))


def _skipped(skipped: dict | None, by: str) -> str:
    """The series a run left out, each with why (none: nothing)."""
    if not skipped:
        return ""
    items = "".join(f"<li><b>{esc(sid)}</b>: {esc(why)}</li>" for sid, why in skipped.items())
    return f"<h3>Series {by} left out ({len(skipped)})</h3><ul>{items}</ul>"


def model_section(src: Sources) -> str:
    if src.bundle is None:
        return section("Model and training", missing("The model settings", "pass `--model DIR`"))
    b = src.bundle
    settings = '<div class="grid">' + "".join(
        f"<div><h3>{esc(name)}</h3>{kv_table(values)}</div>" for name, values in b.config.to_dict().items()) + "</div>"
    from forecast.output.plots import training_curve_figure

    training = b.metrics.get("training") or {}
    parts = [settings, _chosen(b),
             "<h3>Training</h3>" + kv_table(next(iter(training.values())) if len(training) == 1 else training)]
    for name, h in list(b.history.items())[:MAX_CURVES]:
        label = "" if len(b.history) == 1 else f" ({name.removesuffix('.keras')})"
        parts.append(figure(training_curve_figure(h["history"], h.get("best_epoch"), title="Training curve" + label,
                                                  dropout=b.config.model.dropout),
                            "Loss per epoch on the training and validation parts; the best epoch's weights are kept."))
    return section("Model and training", *parts)


def _chosen(bundle) -> str:
    """What train chose where the settings say ``auto`` (one series): the transform, the statistical part the network
    corrects and the network's weight, each with the reason train gave."""
    test = _one(bundle)
    if test is None:
        return ""
    transform, hybrid = test.get("transform") or {}, test.get("hybrid") or {}
    rows = {"transform": f"{transform.get('used', '—')} ({transform.get('why', '')})",
            "hybrid": (f"{hybrid.get('part') if hybrid.get('used') else 'none'} ({hybrid.get('why', '')})"
                       if hybrid else "none"),
            "network weight": test.get("network_weight")}
    return "<h3>Chosen by train</h3>" + kv_table({k: v for k, v in rows.items() if v is not None})


MAX_CURVES = 6  # training curves shown for a bundle with one network per series


def forecast_section(src: Sources) -> str:
    if src.forecast is None:
        return section("Forecast", missing("The forecast", "pass `--model DIR`"))
    from forecast.output.console import forecast_charts

    fc = src.forecast
    single = len(fc.ids) == 1
    frame = fc.table()  # the id column kept for a long or wide file, as the CSV has it
    chart = figure(forecast_charts(src.bundle, fc), ("History, 1-step test predictions and the forecast" if single else
                   "Each series' recent history and forecast") + " with its interval bands.")
    frame = frame.assign(date=stamps_text(frame["date"]))  # one date format for all (an hourly midnight too)
    rows = [list(r) for r in frame.itertuples(index=False)]
    cols = list(frame.columns)
    last = next(iter(fc.history.values()))
    meta = (f"From {stamp_text(last['date'].iloc[-1])} (last price {fmt(float(last['price'].iloc[-1]))})" if single
            else f"{len(fc.ids)} series, each from the end of its own data")
    return section("Forecast", f'<p class="meta">{esc(meta)}'
                   f"{esc(' — recursive beyond the trained horizon' if fc.recursive else '')}</p>", chart,
                   table(cols, rows, keys=cols))


def test_scores_section(src: Sources) -> str:
    if src.bundle is None:
        return section("Test part: LSTM vs naive", missing("Test scores", "pass `--model DIR`"))
    test = _one(src.bundle)
    if test is None:
        per = src.bundle.metrics["test"]["series"]
        rows = [[sid, m["n_origins"], m["lstm"]["mae"], m["naive"]["mae"], m["skill_vs_naive"], m["dm_test"]["p_value"]]
                for sid, m in per.items()]
        return section("Test part: LSTM vs naive, per series", table(
            ["series", "test origins", "LSTM MAE", "naive MAE", "skill vs naive", "Diebold-Mariano p"], rows,
            ["", "", "mae", "mae", "skill_vs_naive", "p_value"]))
    keys = [k for k in ("mae", "rmse", "mape", "smape") if k in test["lstm"]]
    rows = [[name, *(test[name].get(k) for k in keys)] for name in ("lstm", "naive")]
    best = 0 if test.get("beats_naive") else 1
    return section("Test part: LSTM vs naive", table(["model", *map(str.upper, keys)], rows, ["", *keys], [best]),
                   f"<p>Skill vs naive (1 − MAE ratio): <b>{fmt(test.get('skill_vs_naive'), 'skill_vs_naive')}</b></p>")


def _coverage_rows(models: dict) -> tuple[list[str], list[list[Any]]]:
    levels = sorted({lvl for m in models.values() for lvl in (m.get("coverage") or {})}, key=float)

    def first(v):  # width/winkler: one number, or by level (forecast backtest): the narrowest level's
        return v.get(levels[0]) if isinstance(v, dict) else v

    rows = [[name, *((m.get("coverage") or {}).get(lvl) for lvl in levels), first(m.get("width")),
             first(m.get("winkler"))] for name, m in models.items() if m.get("coverage")]
    return levels, rows


def _scoreboard(bt: dict) -> str:
    models, seconds = bt["models"], bt.get("seconds") or {}
    keys = [k for k in SCORE_KEYS if any(k in m for m in models.values())]
    order = display_order({n: models[n].get("mae") for n in models}, ranking_of(bt.get("verdict")))
    rows = [[n, *(models[n].get(k) for k in keys), *([seconds.get(n)] if seconds else [])] for n in order]
    extra = ["seconds"] if seconds else []
    board = table(["model", *map(label, keys), *extra], rows, ["", *keys, *extra],
                  [i for i, n in enumerate(order) if n == "lstm"])
    horizon = {n: models[n]["per_horizon"] for n in order if models[n].get("per_horizon")}
    if horizon:
        steps = max(len(v) for v in horizon.values())
        board += "<h3>MAE per horizon step</h3>" + table(
            ["model", *(str(s) for s in range(1, steps + 1))], [[n, *(st.get("mae") for st in v)] for n, v in horizon.items()])
    return board


def _same_data(src: Sources) -> str:
    """A warning when the bundle and the backtest were made from different files."""
    files = _different_files(src)
    if files:
        return (f'<p class="verdict bad">This backtest was run on a different file ({esc(files[1])}) than the '
                f"bundle was trained on ({esc(files[0])}, or another version of it).</p>")
    return ""


def _backtests(bt: dict | None) -> list[tuple[str, dict]]:
    """(series id, report) of each series of a backtest: ("", the report) for one series; for a panel each
    series' own report (its models, coverage and lag diagnostic), the first SERIES_CHARTS_MAX."""
    from forecast.config import SERIES_CHARTS_MAX

    if not bt:
        return []
    if "series" not in bt:
        return [("", bt)]
    return list(bt["series"].items())[:SERIES_CHARTS_MAX]


def _charts(src: Sources, sid: str) -> list[str]:
    """The backtest's charts of series ``sid`` (its sub-folder for a panel, as metrics.json names it), embedded."""
    from forecast.bundle import slug

    named = ((src.backtest or {}).get("series") or {}).get(sid, {}).get("charts_folder") if sid else None
    folder = src.backtest_dir / (named or slug(sid)) if sid else src.backtest_dir  # slug: a backtest before it
    return [image(png.read_bytes(), CAPTIONS.get(png.stem, png.stem.replace("_", " ")) + (f" ({sid})" if sid else ""))
            for png in sorted(folder.glob("*.png"))] if folder.is_dir() else []


def backtest_section(src: Sources) -> str:
    bt = src.backtest
    if not bt:
        return section("Backtest against baselines", missing("The backtest scoreboard", BACKTEST_HINT))
    if "series" in bt:  # several series: the pooled scoreboard, then each series' verdict
        p = bt["pooled"]
        rows = [[n, p["models"][n].get("mean_mase"), p["models"][n].get("mean_skill_vs_naive"),
                 p["models"][n].get("n_series")]
                for n in display_order({n: m.get("mean_mase") for n, m in p["models"].items()},
                                       ranking_of(bt.get("verdict")))]
        verdicts = "".join(f"<li><b>{esc(sid)}</b>: {esc(text_of(r.get('verdict')))}</li>"
                           for sid, r in bt["series"].items())
        charts = [c for sid, _ in _backtests(bt) for c in _charts(src, sid)]
        return section("Backtest against baselines", f'<p class="meta">Folder {esc(src.backtest_dir)}; '
                       f"{len(bt['series'])} series{', pooled' if len(bt['series']) > 1 else ''}.</p>", _same_data(src),
                       f'<p class="verdict">{esc(text_of(bt.get("verdict")) or "no verdict recorded")}</p>',
                       table(["model", "mean MASE", "mean skill vs naive", "series"], rows,
                             ["", "mase", "skill_vs_naive", ""]), f"<h3>Per series</h3><ul>{verdicts}</ul>",
                       _skipped(bt.get("skipped"), "the backtest"), *charts)
    parts = [f'<p class="meta">Folder {esc(src.backtest_dir)}; {esc(_count(bt.get("origins")))} forecast origins; '
             "sorted by MASE (lower is better), LSTM highlighted.</p>", _same_data(src),
             f'<p class="verdict">{esc(text_of(bt.get("verdict")) or "no verdict recorded")}</p>', _scoreboard(bt)]
    if isinstance(bt.get("network_weight"), dict):
        parts.append(f"<p>Network weight: {esc(bt['network_weight'].get('message', ''))}</p>")
    dm = bt.get("dm_test")
    if isinstance(dm, dict):
        parts.append(f"<h3>Diebold–Mariano test ({esc(heading_name(bt.get('verdict')))} vs naive)</h3>"
                     + (f"<p>{esc(dm['verdict'])}</p>" if dm.get("verdict") else "")
                     + kv_table({k: v for k, v in dm.items() if k not in ("verdict", "origins")}))  # n: origins
    if bt.get("settings"):
        parts.append("<h3>Settings</h3>" + kv_table(bt["settings"]))
    notes = bt.get("notes")
    if notes:
        items = notes if isinstance(notes, list) else [notes]
        parts.append("<h3>Notes</h3><ul>" + "".join(f"<li>{esc(n)}</li>" for n in items) + "</ul>")
    parts += _charts(src, "")
    return section("Backtest against baselines", *parts)


def _origins(bt: dict) -> str:
    """How many forecast origins a backtest scored: '5 origins', or '12 origins over 4 series'."""
    if "series" in bt:
        return (f"{sum(len(r.get('origins') or ()) for r in bt['series'].values())} origins over "
                f"{len(bt['series'])} series")
    return f"{_count(bt.get('origins'))} origins"


def _count(origins: Any) -> Any:
    return len(origins) if isinstance(origins, list) else origins if origins is not None else "?"


def _bundle_coverage(calib: dict) -> str:
    """The test-part coverage of the bundle's calibrated intervals: one row per level, then per step."""
    levels = calib.get("levels") or {}
    head = (f"<p>Calibrated on {esc(calib.get('n_calibration', '?'))} {esc(calib.get('calibrated_on', ''))} "
            f"({esc(calib.get('method', '?'))} conformal, {esc(calib.get('space', '?'))} space); measured on the "
            f"{esc(calib.get('measured_on', 'test part'))}.</p>")
    cols = ["nominal", "coverage", "mean_width", "winkler"]
    rows = [[f"{label}%", *(v.get(c) for c in cols)] for label, v in levels.items()]
    parts = [head, table(["level", *cols], rows, ["", "coverage", "coverage", "mean_width", "winkler"])]
    parts += [f"<p>{label}%: {esc(text[2:])}.</p>" for label, v in levels.items()
              if (text := calibrated_text(v.get("calibrated_range"), v.get("coverage")))]
    per_step = {label: v["coverage_per_step"] for label, v in levels.items() if v.get("coverage_per_step")}
    if per_step:
        steps = max(map(len, per_step.values()))
        parts.append("<h3>Coverage per horizon step</h3>" + table(
            ["level", *map(str, range(1, steps + 1))], [[f"{k}%", *v] for k, v in per_step.items()],
            ["", *["coverage"] * steps]))
    return "".join(parts)


def intervals_section(src: Sources) -> str:
    parts = []
    for sid, m in (src.bundle.metrics["test"]["series"].items() if src.bundle is not None else ()):
        name = "" if src.bundle.single else f", {sid}"
        parts.append(f"<h3>Test part (bundle{esc(name)})</h3>" + _bundle_coverage(m["intervals"]))
    for sid, bt in _backtests(src.backtest):
        levels, rows = _coverage_rows(bt.get("models") or {})
        if rows:
            cols = [f"coverage {lvl}" for lvl in levels]
            parts.append(f"<h3>Backtest{esc(f', {sid}' if sid else '')} (nominal level in the header; width and "
                         f"Winkler score at {esc(levels[0])})</h3>"
                         + table(["model", *cols, "width", "winkler"], rows, ["", *cols, "width", "winkler"]))
            parts += [f"<p>{esc(range_sentence(float(lvl), entry, {r[0]: r[1 + levels.index(lvl)] for r in rows}))}</p>"
                      for lvl, entry in (bt.get("coverage_range") or {}).items() if lvl in levels]
    return section("Prediction intervals", *(parts or [missing("Interval coverage", BACKTEST_HINT)]))


def lag_section(src: Sources) -> str:
    parts = []
    for sid, bt in _backtests(src.backtest):
        lag = bt.get("lag_diagnostic")
        if not lag:
            continue
        parts += [f"<h3>{esc(sid)}</h3>" if sid else "", f"<p>{esc(lag.get('message', ''))}</p>",
                  f"<p>Best-matching lag: <b>{fmt(lag.get('best_lag'))}</b>"
                  + (f" ({esc(lag['method'])})" if lag.get("method") else "") + "</p>"]
        scores = lag.get("scores")
        if isinstance(scores, dict):
            parts.append(table(["lag", lag.get("score", "score")], scores.items()))
        elif isinstance(scores, list):
            parts.append(table(["lag", lag.get("score", "score")], enumerate(scores)))
    return section("Lag diagnostic", *(parts or [missing("The lag diagnostic", BACKTEST_HINT)]))


def environment_section(src: Sources) -> str:
    from forecast import __version__

    parts = []
    if src.bundle is not None:
        m = src.bundle.manifest
        parts.append("<h3>Bundle (training run)</h3>" + kv_table(
            {"folder": str(src.bundle.path), "created": m.get("created"), "device": m.get("device"),
             "seed": m.get("seed"), **(m.get("versions") or {})}))
    parts.append("<h3>This report</h3>" + kv_table(
        {"forecast": __version__, "python": platform.python_version(), "platform": platform.platform()}))
    return section("Environment", *parts)


SECTIONS = (summary_section, data_section, model_section, forecast_section, test_scores_section,
            backtest_section, intervals_section, lag_section, environment_section)


def render(src: Sources) -> str:
    """The whole HTML document."""
    name = Path(src.bundle.data.get("path", "series")).name if src.bundle is not None else "backtest"
    target = src.bundle.data.get("target", "") if src.bundle is not None else ""
    title = f"Forecast report: {name}" + (f" ({target})" if target else "")
    made = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    sources = ", ".join(f"{what} {path}" for what, path in (
        ("bundle", src.bundle.path if src.bundle is not None else None), ("backtest", src.backtest_dir)) if path)
    body = "".join(s(src) for s in SECTIONS)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body><main>"
            f"<h1>{esc(title)}</h1><p class=\"meta\">Made {esc(made)} from {esc(sources)}.</p>"
            f"{body}</main></body></html>\n")


def write_report(out: Path, model: Path | None = None, backtest: Path | None = None) -> Path:
    """Gather the sources, render the report and write it atomically to ``out``."""
    out = Path(out)
    if out.is_dir():
        raise ForecastError(f"--out {out}: is a folder; give a file name such as {out / 'report.html'}")
    if out.suffix.lower() not in (".html", ".htm"):  # never HTML over a CSV or an image by a slip
        raise ForecastError(f"--out {out}: the report is an HTML file; name it *.html, e.g. {out.with_suffix('.html')}")
    check_can_write(out, "--out")
    return atomic_write_text(out, render(gather(model, backtest)))
