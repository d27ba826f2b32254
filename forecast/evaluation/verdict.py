"""The backtest's verdict: is the LSTM better than the BEST model on the same origins, and is that more than noise?

``verdict(models, forecasts, actual, naive)`` ranks the models by MAE (``rank_by``), the LSTM included,
and compares the LSTM with the best other model and with the naive forecast by the Diebold-Mariano test
(absolute errors, the loss of MAE, one loss per origin: ``dm_test``). It returns a JSON-ready dict::

    best                   the model with the lowest MAE among those with a forecast at every origin
    ranking                those models, lowest MAE first
    incomplete             models left out of the ranking: no forecast at some origin (NaN)
    compared_with          the model the LSTM is compared with: ``best``, or the runner-up when the LSTM is best
    lstm_skill_vs_best     1 - MAE_lstm / MAE_compared_with (positive: the LSTM is more accurate)
    lstm_skill_vs_naive    1 - MAE_lstm / MAE_naive
    lstm_rmse_vs_naive     1 - RMSE_lstm / RMSE_naive (positive: the LSTM's RMSE is lower)
    p_value_vs_best        Diebold-Mariano p-value, LSTM vs ``compared_with`` (None: not tested)
    p_value_vs_naive       Diebold-Mariano p-value, LSTM vs naive
    tests                  {"vs_best": test, "vs_naive": test}: the full Diebold-Mariano results
    origins                forecast origins the tests pair; fewer than ``needed_origins``: not tested
    significance           the level the p-values are read at (0.05)
    lstm_is                what the text calls the LSTM: ``lstm_label``, which names the statistical model a
                           residual hybrid corrects, so a win of that model is never credited to the network alone
    text                   one sentence a person can act on

The wording never contradicts itself: a difference that is not significant is never called a win, a
model whose MAE beats naive but whose RMSE does not is said to, and too few origins to test are said
plainly. The same function serves one series or a pooled summary (pass pooled metrics and stacked
forecasts).
"""

from __future__ import annotations

import math

import numpy as np

from forecast.evaluation import metrics as M

SIGNIFICANCE = 0.05
DM_LOSS = "absolute"  # the loss of MAE, the headline metric
MIN_ORIGINS = 3  # fewer forecast origins: no Diebold-Mariano test (the errors of one origin are correlated)
TIE = 1e-6  # relative difference below which two losses or MAEs are the same: float noise of equal forecasts
# (a statistical model's forecasts through the network's log-return encoding and back differed by 1.2e-9)


def display_name(name: str) -> str:
    from forecast.models.baselines import DISPLAY_NAMES

    return DISPLAY_NAMES.get(name, name)


def _num(v) -> float:
    return float("nan") if v is None else float(v)


def _complete(f) -> bool:
    return f is not None and np.size(f) > 0 and bool(np.all(np.isfinite(f)))


def dm_test(fa, fb, actual, names: tuple[str, str], overlap: int = 1) -> dict:
    """Diebold-Mariano test of ``fa`` against ``fb`` (both (origins, h), origins in time order) on the origins
    where both are finite.

    The unit is the origin, not the forecast: one loss differential per origin, the difference of the two models'
    mean absolute errors over its h steps (the steps of one origin share its starting level, so their errors are
    far from independent: taking each as a separate observation gave p = 1.5e-6 from three origins). Origins whose
    targets overlap (``overlap`` = ceil(h / step) > 1) have their differentials' autocovariances to lag
    ``overlap - 1`` in the variance; Student's t on origins - 1 degrees of freedom (``metrics.diebold_mariano``).
    ``n`` is the number of origins tested. Not tested (NaN) with fewer than ``needed_origins(overlap)``;
    losses equal to rounding (a row that forecast another's values) are no difference: statistic 0, p 1."""
    fa, fb, a = (np.atleast_2d(np.asarray(x, dtype=np.float64)) for x in (fa, fb, actual))
    rows = np.all(np.isfinite(fa), axis=1) & np.all(np.isfinite(fb), axis=1)
    test = loss_test(origin_losses(fa[rows] - a[rows]), origin_losses(fb[rows] - a[rows]), overlap)
    return {**test, "models": list(names)}


def loss_test(la, lb, overlap: int = 1) -> dict:
    """``dm_test`` on the losses themselves: ``la``, ``lb`` one mean absolute error per origin (or per origin
    date), in time order."""
    la, lb = np.asarray(la, dtype=np.float64), np.asarray(lb, dtype=np.float64)
    origins = len(la)
    if origins < needed_origins(overlap):
        test = {"statistic": float("nan"), "p_value": float("nan"), "n": origins, "mean_loss_diff": float("nan")}
    elif np.allclose(la, lb, rtol=TIE, atol=0.0):
        test = {"statistic": 0.0, "p_value": 1.0, "n": origins, "mean_loss_diff": float(np.mean(la - lb))}
    else:
        test = M.diebold_mariano(la, lb, horizon=overlap, loss=DM_LOSS)
    p = test["p_value"]
    sig = math.isfinite(p) and p < SIGNIFICANCE
    return {**test, "loss": DM_LOSS, "unit": "origin", "overlap": int(overlap), "origins": origins,
            "needed": needed_origins(overlap), "significant": bool(sig) if math.isfinite(p) else None}


def needed_origins(overlap: int = 1) -> int:
    """Origins a test needs: MIN_ORIGINS, and twice as many as share a target (``overlap``): with fewer, the
    autocovariances of the overlap take up the sample (5 origins one step apart, horizon 10: p < 1e-6 in 29% of
    draws of equally good forecasts)."""
    return max(MIN_ORIGINS, 2 * int(overlap))


def origin_losses(errors) -> np.ndarray:
    """Each origin's mean absolute error over its steps: (origins, h) errors -> (origins,) (NaN where one is)."""
    return np.mean(np.abs(np.atleast_2d(np.asarray(errors, dtype=np.float64))), axis=1)


def overlap_of(horizon: int, step: int) -> int:
    """How many consecutive origins ``step`` apart share a target with an origin forecasting ``horizon`` steps."""
    return max(1, -(-int(horizon) // max(1, int(step))))


def _pct(x: float) -> str:
    if abs(x) < 0.0005:  # would print as 0.0%
        return "under 0.1%"
    return f"{abs(x):.0%}" if abs(x) >= 0.01 else f"{abs(x):.1%}"


def _p(p: float) -> str:
    return f"p = {p:.2g}" if p >= 0.001 else "p < 0.001"


def lstm_label(parts, unit: str = "fits", weights=()) -> str:
    """How the verdict names the LSTM of a backtest whose fits used ``parts`` (one per fit: the statistical model
    the residual hybrid corrects, or None): "the LSTM", "the LSTM (correcting AutoARIMA's forecasts ...)" or
    "the LSTM (correcting the forecasts of AutoARIMA, MSTL or AutoETS ...)"; the verdict names it so once, then
    by ``short_name``. ``unit`` names what ``parts`` counts ("in 2 of 3 fits"). Where ``weights`` (the fits' network
    weights) are all 0, the row forecast its anchors unchanged and is named so: "the lstm row (AutoETS's forecasts,
    fitted without the validation rows: ...)", so a statistical model's win, or naive's, is never credited to the
    network, nor mistaken for the backtest's own row of that model (fitted on every row before the origin)."""
    parts = list(parts)
    used = [p for p in parts if p]
    names = [display_name(n) for n in dict.fromkeys(used)]
    whose = (f"{names[0]}'s forecasts" if len(names) == 1 else
             f"the forecasts of {', '.join(names[:-1])} or {names[-1]}" if names else "")
    weights = [float(w) for w in weights]
    if weights and len(weights) == len(parts) and not any(weights):  # every fit, none failed, at weight 0
        fitted = ", fitted without the validation rows" if used else ""  # the backtest's rows of it see them
        whose = ("the naive forecast itself" if not used else whose if len(used) == len(parts)
                 else f"the naive forecast or {whose}")
        return f"the lstm row ({whose}{fitted}: the network's weight is 0 in every fit)"
    if not used:
        return "the LSTM"
    where = "" if len(used) == len(parts) else f" in {len(used)} of {len(parts)} {unit}"
    return f"the LSTM (correcting {whose}{where})"


def used_part(hybrid: dict | None) -> str | None:
    """The hybrid part a test part's metrics say was used ("arima", "season", ...), or None."""
    return (hybrid or {}).get("part") if (hybrid or {}).get("used") else None


def statistical_part(hybrid: dict | None) -> str | None:
    """The statistical model ("arima", "ets", ...) a test part's metrics say the network corrected, or None."""
    part = used_part(hybrid)
    return part if part not in ("season", "none") else None


def shipped_label(hybrid: dict | None, weight: float | None) -> str:
    """How a test part's judgement names the model ``train`` ships, from its metrics' ``hybrid`` and
    ``network_weight``: with a statistical part "the LSTM (correcting AutoARIMA's forecasts)", or, where the
    network's weight is 0, that model's forecasts themselves; without one and a weight of 0, the naive forecast
    itself (a seasonal profile's too: the weight shrinks toward the naive forecast). A statistical model's win, or
    naive's, is then never credited to the network."""
    part = statistical_part(hybrid)
    if part is not None:
        name = display_name(part)
        return (f"the shipped model ({name}'s forecasts unchanged: the network's weight is 0)" if weight == 0
                else f"the LSTM (correcting {name}'s forecasts)")
    if weight == 0:
        return "the shipped model (the naive forecast itself: the network's weight is 0)"
    return "the LSTM"


def shipped_name(hybrid: dict | None, weight: float | None) -> str:
    """``shipped_label`` said again, short (``short_name``): "the LSTM", or "the shipped model" where the network's
    weight is 0."""
    return short_name(shipped_label(hybrid, weight))


def verdict(models: dict, forecasts: dict, actual, naive, *, rank_by: str = "mae", lstm_is: str = "the LSTM",
            overlap: int = 1) -> dict:
    """The verdict object (see the module docstring).

    ``models``: name -> metrics with ``rank_by`` (default ``mae``) and ``rmse`` (None or NaN: no forecasts);
    ``forecasts``: name -> (origins, h) forecasts; ``actual``: (origins, h) targets; ``naive``: the naive
    forecasts (origins, h), for the test against naive (``forecasts["naive"]`` need not exist); ``lstm_is``:
    what the sentence calls the ``lstm`` model (``lstm_label``); ``overlap``: how many consecutive origins share a
    target (``overlap_of``; 1 where origins are a horizon or more apart), for the tests (``dm_test``).
    """
    score = {n: _num((m or {}).get(rank_by)) for n, m in models.items()}
    incomplete = [n for n in models if n in forecasts and not _complete(forecasts[n]) and math.isfinite(score[n])]
    ranking = ranked({n: score[n] for n in models if math.isfinite(score[n]) and n not in incomplete})
    out = {"best": ranking[0] if ranking else None, "ranking": ranking, "rank_by": rank_by,
           "incomplete": incomplete, "compared_with": None, "lstm_skill_vs_best": None,
           "lstm_skill_vs_naive": None, "lstm_rmse_vs_naive": None, "p_value_vs_best": None,
           "p_value_vs_naive": None, "tests": {}, "origins": int(np.atleast_2d(actual).shape[0]),
           "significance": SIGNIFICANCE, "lstm_is": lstm_is}
    naive_rmse = _naive_rmse(models, actual, naive)
    if not ranking:
        out["text"] = "No model produced a forecast at every origin; there is nothing to compare."
        return out
    best = ranking[0]
    if "lstm" not in models or not math.isfinite(score["lstm"]) or "lstm" not in ranking:
        out["text"] = _capital(_without_lstm(models, score, ranking, naive_rmse, lstm_missing="lstm" in models))
        return out
    rival = best if best != "lstm" else (ranking[1] if len(ranking) > 1 else None)
    F = forecasts["lstm"]
    vs_naive = dm_test(F, naive, actual, ("lstm", "naive"), overlap)
    naive_score = _num(models.get("naive", {}).get(rank_by)) if "naive" in models else _mae(actual, naive)
    out.update(lstm_skill_vs_naive=M.skill(score["lstm"], naive_score),
               lstm_rmse_vs_naive=M.skill(_num(models["lstm"].get("rmse")), naive_rmse),
               p_value_vs_naive=vs_naive["p_value"], tests={"vs_naive": vs_naive})
    if best == "lstm" and "naive" not in models and math.isfinite(naive_score) and naive_score < score["lstm"]:
        a, b = apart(naive_score, score["lstm"])  # naive is scored whether asked for or not: it ranks first
        out["text"] = _capital(f"{lstm_is} has the lowest {rank_by.upper()} of the models asked for, but the naive "
                               f"forecast (not among them, scored anyway) has a lower one still ({a} against {b}; "
                               f"{_p(vs_naive['p_value']) if math.isfinite(vs_naive['p_value']) else 'not tested'}): "
                               "use the naive forecast.")
        return out
    if rival is None:
        out["text"] = _capital(_lstm_alone(out, vs_naive, lstm_is))
        return out
    vs_best = dm_test(F, forecasts[rival], actual, ("lstm", rival), overlap)
    out.update(compared_with=rival, lstm_skill_vs_best=M.skill(score["lstm"], score[rival]),
               p_value_vs_best=vs_best["p_value"], tests={"vs_best": vs_best, "vs_naive": vs_naive})
    out["text"] = _capital(_text(out, models, score, best, rival, vs_best, naive_rmse, rank_by, lstm_is))
    return out


def _possessive(name: str) -> str:
    return f"that of {name}" if name.endswith(")") else f"{name}'s"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _mae(actual, naive) -> float:
    a, f = np.asarray(actual, dtype=np.float64), np.asarray(naive, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(f)
    return float(np.mean(np.abs(a[ok] - f[ok]))) if ok.any() else float("nan")


def _naive_rmse(models, actual, naive) -> float:
    if "naive" in models and models["naive"] and models["naive"].get("rmse") is not None:
        return _num(models["naive"]["rmse"])
    a, f = np.asarray(actual, dtype=np.float64), np.asarray(naive, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(f)
    return float(np.sqrt(np.mean((a[ok] - f[ok]) ** 2))) if ok.any() else float("nan")


def _rmse_caveat(models, name, naive_rmse) -> str:
    """', though its RMSE is worse than the naive forecast's' when it is (and the model is not naive)."""
    r = _num(models[name].get("rmse"))
    if name != "naive" and math.isfinite(r) and math.isfinite(naive_rmse) and r > naive_rmse:
        a, b = apart(r, naive_rmse)
        return f", though its RMSE is worse than the naive forecast's ({a} vs {b})"
    return ""


def apart(a: float, b: float) -> tuple[str, str]:
    """``a`` and ``b`` to 4 significant digits, or as many more (up to 10) as it takes to print them apart."""
    for digits in range(4, 11):
        shown = f"{a:,.{digits}g}", f"{b:,.{digits}g}"
        if shown[0] != shown[1]:
            break
    return shown


def _too_few(test: dict) -> str:
    needed = test.get("needed", MIN_ORIGINS)
    overlapping = " or a --step as long as the horizon" if needed > MIN_ORIGINS else ""
    return (f"but {test['origins']} forecast origin{'s are' if test['origins'] != 1 else ' is'} too few to test "
            f"whether the difference is real (at least {needed} are needed; run more --folds{overlapping})")


def same_score(a: float, b: float) -> bool:
    """Two MAEs (or MASEs) equal to float rounding (``TIE``, relative): the same forecasts; 0 and 0 too."""
    return abs(a - b) <= TIE * max(abs(a), abs(b))


def ranked(score: dict[str, float]) -> list[str]:
    """The names by score, lowest first; where a network row (the lstm row, a variant) and a statistical model
    have the same score to float rounding (``TIE``), the statistical model first: a tie never ranks the LSTM
    above a simpler model (a row at weight 0 forecasts its anchor, and ``best`` must not name it)."""
    from forecast.config import is_network

    order = sorted(score, key=score.get)
    moved = True
    while moved:
        moved = False
        for i, (a, b) in enumerate(zip(order, order[1:])):
            if is_network(a) and not is_network(b) and same_score(score[a], score[b]):
                order[i], order[i + 1], moved = b, a, True
    return order


def display_order(scores: dict, ranking=None) -> list[str]:
    """The models of a table or chart in order: ``ranking`` (a verdict's; default ``ranked`` of the finite
    ``scores``: a tie to rounding puts the simpler model first), then the others by score, those without last."""
    def finite(v) -> bool:
        return isinstance(v, (int, float)) and math.isfinite(v)

    ranking = ranked({n: v for n, v in scores.items() if finite(v)}) if ranking is None else ranking
    order = [n for n in ranking if n in scores]
    return [*order, *sorted((n for n in scores if n not in order),
                            key=lambda n: scores[n] if finite(scores[n]) else math.inf)]


def short_name(label: str) -> str:
    """What a sentence calls the lstm row after naming it in full (``lstm_label``): "the LSTM", or "the lstm row"
    where its forecasts were another model's."""
    return label.split(" (")[0]


def ranking_of(verdict) -> list[str] | None:
    """A backtest verdict's ranking (``verdict``), for ``display_order``; None for an older report's verdict, a
    string, or none."""
    return verdict.get("ranking") if isinstance(verdict, dict) else None


def heading_name(verdict) -> str:
    """What a heading calls the lstm row of a backtest's ``verdict``: "LSTM", or "lstm row" where its forecasts were
    other models' (``short_name`` without the article); an older report's verdict, a string, says "LSTM"."""
    label = verdict.get("lstm_is", "the LSTM") if isinstance(verdict, dict) else "the LSTM"
    return short_name(label).removeprefix("the ")


def _text(out, models, score, best, rival, test, naive_rmse, rank_by, L) -> str:
    metric = rank_by.upper()
    p = test["p_value"]
    tested, sig = math.isfinite(p), math.isfinite(p) and p < SIGNIFICANCE
    if best != "lstm":
        B = display_name(best)
        gap = 1 - score[best] / score["lstm"] if score["lstm"] > 0 else float("nan")
        if same_score(score[best], score["lstm"]):  # the same forecasts, to rounding (a row at weight 0, its anchor)
            return f"{B} and {L} have the same {metric} (to float rounding): nothing tells them apart; prefer {B}."
        head = f"{B} is best here, its {metric} {_pct(gap)} lower than {_possessive(L)}"
        caveat = _rmse_caveat(models, best, naive_rmse)
        if not tested:
            return f"{head}{caveat}, {_too_few(test)}; until then prefer {B}{_simpler(best)}."
        if sig:
            return f"{head} ({_p(p)}, significant){caveat}: use {B}, not {short_name(L)}."
        return (f"{head}{caveat}, but the difference is not significant ({_p(p)}): {short_name(L)} is no more "
                f"accurate than {B}, so use {B}{_simpler(best)}.")
    R = display_name(rival)
    gap = out["lstm_skill_vs_best"]
    if same_score(score["lstm"], score[rival]):  # the same forecasts, to rounding (a row at weight 0, its anchor)
        return (f"{L} and {R} have the same {metric} (to float rounding): nothing tells them apart; "
                f"prefer {R}{_simpler(rival)}.")
    head = f"{L} has the lowest {metric}, {_pct(gap)} lower than {R}'s (the best other model)"
    caveat = _rmse_caveat(models, "lstm", naive_rmse)
    if not tested:
        return f"{head}{caveat}, {_too_few(test)}; until then prefer {R}{_simpler(rival)}."
    if sig:
        return (f"{L} is best here, its {metric} {_pct(gap)} lower than {R}'s ({_p(p)}, significant){caveat}: "
                f"use {short_name(L)}.")
    return (f"{head}{caveat}, but the difference is not significant ({_p(p)}) and may be noise: "
            f"prefer {R}{_simpler(rival)}.")


def _simpler(name: str) -> str:
    from forecast.config import is_network

    return "" if is_network(name) else ", the simpler model"  # a network variant is not simpler than the LSTM


def _lstm_alone(out, test, L) -> str:
    p, sk = test["p_value"], out["lstm_skill_vs_naive"]
    if not math.isfinite(sk):
        return f"{L} is the only model scored; there is nothing to compare it with."
    word = "lower" if sk > 0 else "higher"
    head = f"{L} is the only model scored; its MAE is {_pct(sk)} {word} than the naive forecast's"
    if not math.isfinite(p):
        return f"{head}, {_too_few(test)}."
    return f"{head} ({_p(p)}, {'significant' if p < SIGNIFICANCE else 'not significant'})."


def _without_lstm(models, score, ranking, naive_rmse, lstm_missing: bool) -> str:
    best = ranking[0]
    B = display_name(best)
    lead = "The LSTM produced no forecast at every origin; " if lstm_missing else ""
    if "naive" in ranking and best != "naive" and score["naive"] > 0:
        gap = 1 - score[best] / score["naive"]
        return (f"{lead}{B} is best here, its MAE {_pct(gap)} lower than the naive forecast's"
                f"{_rmse_caveat(models, best, naive_rmse)} (not tested).")
    return f"{lead}{B} has the lowest MAE of the models scored."


def text_of(v) -> str:
    """The sentence of a verdict: the object's ``text``, or an older report's plain string."""
    return v.get("text", "") if isinstance(v, dict) else str(v or "")
