"""Numbers a face shows beside a fan, computed here once: the horizon summary (the Forecast and Compare pages),
backtest scores of walk-forward results (``kronos_studio.evaluation``), a ranking of models on the same cut-offs
(the Evaluate page's ensemble against its members) and the Compare page's verdict in words."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kronos.config import BAR_COLUMNS
from kronos.lazy import np, pd
from kronos.quantiles import BAND, BAND_NAME, path_quantiles
from kronos_studio.evaluation import path_stats
from kronos_studio.evaluation.baselines import REFERENCE
from kronos_studio.evaluation.metrics import band_covers, crps_samples
from kronos_studio.evaluation.report import paired_skill
from kronos_studio.evaluation.trust import skill_interval, skill_score
from kronos_studio.evaluation.walk_forward import EvalResult, member_results

from .compare import MIN_NOISE_CUTOFFS

NOISE_LEVEL = 0.95
COVERAGE = f"{BAND_NAME} coverage"  # column names of the score tables
BAND_WIDTH = f"band width {BAND_NAME}"


def signed_percent(x: float) -> str:
    """A skill or a return for reading: '+12%', '-0.4%', '+0.03%' (never '-0%': a tiny value keeps the
    decimals that show its size and sign), '0%' for exactly zero, 'n/a' when not a number."""
    if not np.isfinite(x):
        return "n/a"
    p = x * 100
    if p == 0:
        return "0%"
    decimals = 0 if abs(p) >= 1 else 1 if abs(p) >= 0.1 else 2
    return f"{p:+.{decimals}f}%"


@dataclass(frozen=True)
class Summary:
    last: float  # last observed value of the field
    expected_return: float  # mean path value at the horizon / last - 1
    median_return: float
    prob_up: float  # share of paths ending above the last value
    band_low: float
    band_high: float
    band_width: float  # (high - low) / last at the horizon
    first_step_gap: float  # median open of the first forecast bar / last close - 1


def summarize_paths(paths: np.ndarray, history: pd.DataFrame, field: str = "close", band=BAND,
                    columns: Sequence[str] = BAR_COLUMNS) -> Summary:
    """``summarize`` for bare paths [S, H, len(columns)] sampled after ``history`` (e.g. a baseline's)."""
    column = list(columns).index(field)
    last = float(history[field].iloc[-1])
    lo, hi = path_stats.band_at_horizon(paths, band, column)
    return Summary(last, path_stats.expected_return(paths, last, column), path_stats.median_return(paths, last, column),
                   path_stats.prob_up(paths, last, column), lo, hi, (hi - lo) / last if last else float("nan"),
                   path_stats.first_step_gap(paths, float(history["close"].iloc[-1])))


def summarize(forecast, field: str = "close", band=BAND) -> Summary:
    return summarize_paths(forecast.paths, forecast.history, field, band, forecast.columns)


def horizon_numbers(summary: Summary) -> dict:
    """The four numbers every compared model gets (fractions; the table formats them as %)."""
    return {"expected return": summary.expected_return, "P(up)": summary.prob_up,
            BAND_WIDTH: summary.band_width, "first-step gap": summary.first_step_gap}


@dataclass(frozen=True)
class Score:
    mae: float  # mean absolute error of the p50 path
    mape: float  # the same relative to the actual values
    coverage: float  # share of actual values inside the band
    end_error: float  # p50 at the horizon / actual at the horizon - 1
    bars: int
    crps: float  # mean sample CRPS over the steps (kronos_studio.evaluation.metrics)


def score(forecast, actual: pd.DataFrame, field: str = "close", band=BAND) -> Score:
    """Compare a forecast with the bars that really followed (same length as the horizon), with the
    evaluation code's CRPS and band coverage."""
    j = list(forecast.columns).index(field)
    y = actual[field].to_numpy(np.float64)[: forecast.paths.shape[1]]
    n = len(y)
    if n == 0:
        raise ValueError("no actual bars to score against")
    p = forecast.paths[:, :n, j].astype(np.float64)
    mid = path_quantiles(p, 0.5)
    err = np.abs(mid - y)
    covered = band_covers(p, y, tuple(sorted(band)))
    return Score(float(err.mean()), float(np.mean(err / np.abs(y))), float(covered.mean()),
                 float(mid[-1] / y[-1] - 1), n, float(crps_samples(p, y).mean()))


def cutoff_scores(result: EvalResult, reference: EvalResult | None = None, i: int = 0) -> dict:
    """Scores of cut-off ``i`` of a walk-forward (every horizon step, the p10–p90 band): mean CRPS in
    price units and in % of the last close, coverage, MAE of the median, its error at the horizon, and
    the CRPS skill against ``reference`` (a baseline walked forward on the same cut-offs)."""
    crps = float(result.crps[i].mean())
    out = {"CRPS": crps}
    if reference is not None:
        _same_cutoffs(result, reference)
        out["CRPS skill vs random walk"] = skill_score(crps, float(reference.crps[i].mean()))
    return out | {COVERAGE: float(result.covered[i].mean()),
                  "CRPS, % of price": float(result.crps_pct_by_cutoff()[i]),
                  "MAE (p50 close)": float(result.abs_error[i].mean()),
                  "error at horizon": float(result.median[i, -1] / result.actual[i, -1] - 1)}


def across_cutoffs(result: EvalResult, reference: EvalResult, level: float = NOISE_LEVEL) -> dict:
    """Over every cut-off: mean CRPS (% of price), coverage, and the CRPS skill against ``reference``
    with its paired-bootstrap interval (``skill_interval``; NaN below two cut-offs)."""
    _same_cutoffs(result, reference)
    ours, theirs = result.crps_pct_by_cutoff(), reference.crps_pct_by_cutoff()
    lo, hi = skill_interval(ours, theirs, level)
    return {"cut-offs": len(result.cutoffs), "CRPS, % of price": float(ours.mean()),
            COVERAGE: float(result.covered.mean()),
            "CRPS skill vs random walk": skill_score(float(ours.mean()), float(theirs.mean())),
            "95% CI low": lo, "95% CI high": hi}


def ranking(results: Mapping[str, EvalResult], reference: str, level: float = NOISE_LEVEL) -> pd.DataFrame:
    """One row per model of ``results`` (walk-forwards on the same cut-offs and seeds), lowest mean CRPS
    (% of price) first, with ``rank``: ``across_cutoffs`` against ``results[reference]``."""
    ref = results[reference]
    table = pd.DataFrame([{"model": name, **across_cutoffs(r, ref, level)} for name, r in results.items()])
    table = table.sort_values("CRPS, % of price", kind="stable").reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table


def _same_cutoffs(a: EvalResult, b: EvalResult) -> None:
    if list(a.cutoffs) != list(b.cutoffs) or a.horizon != b.horizon or list(a.seeds) != list(b.seeds):
        raise ValueError(f"{a.name} and {b.name} were not scored on the same cut-offs, horizon and seeds")


@dataclass(frozen=True)
class Verdict:
    text: str
    best: str  # lowest CRPS on the shown cut-off
    runner_up: str
    cutoffs: int  # cut-offs the noise check rests on
    skill: float  # best's CRPS skill over the runner-up across those cut-offs (NaN: not assessed)
    interval: tuple[float, float]
    beyond_noise: bool | None  # None: too few cut-offs to say


def verdict(results: Mapping[str, EvalResult], level: float = NOISE_LEVEL,
            min_cutoffs: int = MIN_NOISE_CUTOFFS, baseline: EvalResult | None = None) -> Verdict:
    """One line on which model had the lower CRPS on the shown cut-off (cut-off 0 of every result), in %
    of the last close as the cards show it, and whether that is beyond noise. Noise is judged only across
    cut-offs: ``skill_interval`` resamples the cut-offs (paired, both models keep the same ones) for the
    best model's CRPS skill over the runner-up's; the difference is beyond noise when that interval
    excludes 0. Horizon steps of one cut-off are not treated as independent (their errors build on each
    other), so one cut-off alone never gets a noise claim. ``baseline`` (the random walk on the same
    cut-offs): named when it beats every model on this cut-off."""
    if len(results) < 2:
        raise ValueError("a verdict needs at least two models")
    items = list(results.values())
    for r in items[1:]:
        _same_cutoffs(items[0], r)
    crps = {name: float(r.crps_pct_by_cutoff()[0]) for name, r in results.items()}  # the cards' % of price
    ranked = sorted(crps, key=crps.get)
    best, second = ranked[0], ranked[1]
    if crps[best] == crps[second]:
        head = f"On this cut-off, {best} and {second} have the same CRPS ({crps[best]:.2f}% of price)"
    elif len(ranked) == 2:
        head = f"On this cut-off, {best} has the lower CRPS ({crps[best]:.2f}% vs {crps[second]:.2f}% of price)"
    else:
        rest = ", ".join(f"{n} {crps[n]:.2f}%" for n in ranked[1:])
        head = f"On this cut-off, {best} has the lowest CRPS ({crps[best]:.2f}% of price; {rest})"
    walk = ""
    if baseline is not None:
        _same_cutoffs(items[0], baseline)
        rw = float(baseline.crps_pct_by_cutoff()[0])
        if rw < crps[best]:
            every = "both models" if len(ranked) == 2 else f"all {len(ranked)} models"
            walk = f" But the {baseline.name} beat {every} on this cut-off ({rw:.2f}% of price)."
    k = len(items[0].cutoffs)
    if k < min_cutoffs:
        tail = (f"; whether that is beyond noise is not assessed: it rests on {k} cut-off{'s' * (k != 1)}, "
                f"and the check needs at least {min_cutoffs}.")
        return Verdict(head + tail + walk, best, second, k, float("nan"), (float("nan"), float("nan")), None)
    ours, theirs = results[best].crps_pct_by_cutoff(), results[second].crps_pct_by_cutoff()
    skill = skill_score(float(ours.mean()), float(theirs.mean()))
    lo, hi = skill_interval(ours, theirs, level)
    ci = f"{level:.0%} interval {signed_percent(lo)} to {signed_percent(hi)}"
    over = f"over the {k} cut-offs one horizon apart ending here"
    if lo > 0:
        tail = (f"; the difference is beyond noise: {over}, {best}'s CRPS is {skill:.0%} lower than {second}'s "
                f"({ci}).")
    elif hi < 0:
        tail = (f", but that is not borne out {over}: there {second} has the lower CRPS ({best}'s skill "
                f"{signed_percent(skill)}, {ci}).")
    else:
        tail = (f"; the difference is not beyond noise: {over}, {best}'s CRPS skill over {second} is "
                f"{signed_percent(skill)} ({ci}, which spans 0).")
    return Verdict(head + tail + walk, best, second, k, skill, (lo, hi), lo > 0)


def member_ranking(report, members: dict[str, str], labels: dict[str, str], ensemble_row: str) -> pd.DataFrame:
    """The ensemble (row ``ensemble_row``), each of its ``members`` (key -> name; its row: ``labels[key]``) on the paths it gave the
    mixture, and the baselines of ``report`` (the ensemble's trust report: its walk-forward kept what each member
    gave it), on the same cut-offs and seeds, best first (``ranking``), with each row's role and mean weight; the
    ensemble against its best member (``paired_skill``) in ``attrs["vs_best_member"]``."""
    model = report.model
    scored = member_results(model, members)
    rows = {ensemble_row: ("ensemble", dataclasses.replace(model, name=ensemble_row))}
    rows |= {labels[k]: ("member", dataclasses.replace(scored[k], name=labels[k])) for k in members}
    rows |= {b.name: ("baseline", b) for b in report.baselines.values()}
    results = {name: r for name, (_, r) in rows.items()}
    table = ranking(results, report.baselines[REFERENCE].name)
    keys = {label: k for k, label in labels.items()}
    weights = pd.DataFrame(model.weights)
    table.insert(2, "role", [rows[m][0] for m in table["model"]])
    table.insert(3, "mean weight", [float(weights[keys[m]].mean()) if m in keys else np.nan for m in table["model"]])
    member_rows = [m for m in table["model"] if m in keys]  # best first
    table.attrs["vs_best_member"] = {"member": member_rows[0],
                                     **paired_skill(results[ensemble_row], results[member_rows[0]])}
    return table
