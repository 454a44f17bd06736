"""Does a ranking work? The cross-sectional statistics of a per-(date, series) panel of signals and the
forward returns that followed them: per-date IC (Pearson) and rank IC (Spearman), their mean, spread,
IR and hit rate, a Newey–West t and 95% interval, the top-minus-bottom return per date before and after
costs, and turnover; the same for naive rankings, and the model's rank IC minus each one's, paired by date.

The panel (``kronos_studio.batch.cross_section`` builds it) has one row per (paths, date, series) with
the columns ``date``, ``series``, ``paths``, ``realised`` (the forward log return over H bars), one column
per model signal (``SIGNALS``) and per naive signal (``BASELINES``).

Why scipy.stats + statsmodels and not alphalens-reloaded: alphalens builds forward returns from one wide
price table on one shared date index, forward-filling prices into the dates a series has no bar
(``prices.ffill().pct_change``): exactly the alignment this walk-forward must not make when an FX pair
and an equity trade on different days. It has no Newey–West interval, its import pulls matplotlib,
seaborn, IPython and empyrical into a library that draws nothing, and what we take from it would be one
``spearmanr`` per date. The per-date correlations are ``scipy.stats``; the Newey–West mean, t and interval
are statsmodels' OLS on a constant with a HAC covariance.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from kronos.errors import Fix, InputError
from kronos.lazy import np, pd

SIGNALS = ("expected_log_return", "median_log_return", "p_up", "mean_over_sd")  # from the model's paths
BASELINES = ("momentum", "reversal", "random")  # naive rankings, from the bars alone
MIN_SERIES_PER_DATE = 3  # a cross-section of fewer series has no meaningful rank correlation
MIN_DATES = 5  # fewer dates give no usable spread of the IC
QUANTILE_SHARE = 0.2  # the top and bottom fifth (at least one series each) form the long-short spread


class RankSkillError(InputError):
    """A watchlist or panel that cannot be scored honestly (too few dates or series, mixed intervals): the
    problem, its numbers (``values``) and the fixes, naming settings (``cutoffs``, ``step``, ``horizon``...)."""


def newey_west_lag(dates: int, horizon: int, step: int, overlap: int | None = None) -> int:
    """The HAC lag: ``overlap``, the most later cut-off dates a forward return overlaps (None: ceil(H / step)
    - 1, as on one shared calendar), and at least the Newey–West (1994) rule of thumb
    floor(4 (T / 100)^(2/9)) for the IC's own autocorrelation."""
    if overlap is None:
        overlap = max(0, math.ceil(horizon / max(step, 1)) - 1)
    return max(overlap, int(math.floor(4 * (dates / 100) ** (2 / 9))))


@dataclass(frozen=True)
class MeanTest:
    """The mean of a per-date series, its Newey–West t and 95% interval (statsmodels' HAC OLS)."""

    mean: float
    t: float
    ci95: tuple[float, float]
    lag: int


def newey_west(values, lag: int) -> MeanTest:
    """Mean of ``values`` with its HAC (Newey–West, Bartlett kernel) t and 95% interval: statsmodels' OLS of
    the values on a constant, ``cov_type="HAC"`` with ``maxlags=lag``; the interval from Student's t with
    T - 1 degrees of freedom (``use_t``), honest for the few dates a watchlist often has."""
    import statsmodels.api as sm

    y = np.asarray(values, np.float64)
    y = y[np.isfinite(y)]
    if len(y) < 2:
        return MeanTest(float(y.mean()) if len(y) else float("nan"), float("nan"), (float("nan"),) * 2, lag)
    fit = sm.OLS(y, np.ones((len(y), 1))).fit(cov_type="HAC", cov_kwds={"maxlags": lag}, use_t=True)
    lo, hi = fit.conf_int(0.05)[0]
    t = float(fit.tvalues[0]) if np.isfinite(fit.bse[0]) and fit.bse[0] > 0 else float("nan")
    return MeanTest(float(fit.params[0]), t, (float(lo), float(hi)), lag)


def per_date_ic(panel: pd.DataFrame, signal: str) -> pd.DataFrame:
    """One row per date: ``ic`` (Pearson) and ``rank_ic`` (Spearman) of ``signal`` with ``realised`` across
    the series of that date, and ``n`` series. A date whose signal (or return) is constant has NaN ICs."""
    from scipy import stats

    rows = []
    dates = panel["date"].to_numpy()
    x_all, y_all = panel[signal].to_numpy(np.float64), panel["realised"].to_numpy(np.float64)
    for date, idx in pd.Series(np.arange(len(panel))).groupby(dates, sort=True):
        x, y = x_all[idx.to_numpy()], y_all[idx.to_numpy()]
        ok = np.isfinite(x) & np.isfinite(y)
        x, y = x[ok], y[ok]
        if len(x) < MIN_SERIES_PER_DATE or np.ptp(x) == 0 or np.ptp(y) == 0:
            ic = rank_ic = float("nan")
        else:
            ic = float(stats.pearsonr(x, y).statistic)
            rank_ic = float(stats.spearmanr(x, y).statistic)
        rows.append({"date": date, "ic": ic, "rank_ic": rank_ic, "n": int(ok.sum())})
    return pd.DataFrame(rows, columns=["date", "ic", "rank_ic", "n"])


def long_short_weights(panel: pd.DataFrame, signal: str) -> pd.DataFrame:
    """Per date, +1/k on the k series the signal ranks highest and -1/k on the k lowest (k = the top and
    bottom ``QUANTILE_SHARE``, at least one): a wide frame, dates × series, 0 where a series is not held.
    Ties are broken by series name, so the weights never depend on row order."""
    names = np.asarray(panel["series"].astype(str))
    values = panel[signal].to_numpy(np.float64)
    weights = {}
    for date, idx in pd.Series(np.arange(len(panel))).groupby(panel["date"].to_numpy(), sort=True):
        idx = idx.to_numpy()
        idx = idx[np.isfinite(values[idx])]
        if len(idx) < 2:
            continue
        k = max(1, int(len(idx) * QUANTILE_SHARE))
        order = idx[np.lexsort((names[idx], values[idx]))]  # by signal, then by name
        w = dict.fromkeys(names[idx], 0.0)
        w.update(dict.fromkeys(names[order[:k]], -1.0 / k))
        w.update(dict.fromkeys(names[order[-k:]], 1.0 / k))
        weights[date] = w
    return pd.DataFrame.from_dict(weights, orient="index").sort_index().fillna(0.0)


def spreads(panel: pd.DataFrame, signal: str, costs_bps: float = 0.0) -> pd.DataFrame:
    """Per date: ``spread`` (the long-short portfolio's forward log return: top-k mean minus bottom-k mean),
    ``turnover`` (sum of |weight changes| from the previous date; the first date enters from cash),
    ``after_costs`` (spread - costs_bps / 10,000 × turnover) and both cumulated."""
    w = long_short_weights(panel, signal)
    realised = panel.pivot_table(index="date", columns="series", values="realised", aggfunc="first")
    realised = realised.reindex(index=w.index, columns=w.columns).fillna(0.0)  # weight 0 where not held
    spread = (w * realised).sum(axis=1)
    turnover = w.diff().abs().sum(axis=1)
    if len(w):
        turnover.iloc[0] = w.iloc[0].abs().sum()
    after = spread - costs_bps / 1e4 * turnover
    return pd.DataFrame({"date": w.index, "spread": spread.to_numpy(), "turnover": turnover.to_numpy(),
                         "after_costs": after.to_numpy(), "cumulative": spread.cumsum().to_numpy(),
                         "cumulative_after_costs": after.cumsum().to_numpy()})


def quantile_returns(panel: pd.DataFrame, signal: str, buckets: int = 5) -> pd.DataFrame:
    """Mean forward log return per signal bucket (1 = the lowest ranked), averaged over dates: each date's
    series split into ``buckets`` groups by their rank (fewer when the date has fewer series)."""
    rows = []
    for _, part in panel[np.isfinite(panel[signal])].groupby("date", sort=True):
        n = len(part)
        if n < MIN_SERIES_PER_DATE:
            continue
        ranks = part.sort_values(["series"])[signal].rank(method="first")  # ties by series name
        bucket = np.ceil(ranks.to_numpy() * min(buckets, n) / n).astype(int)
        realised = part.sort_values(["series"])["realised"].to_numpy()
        rows += [{"bucket": int(b), "realised": float(realised[bucket == b].mean())} for b in np.unique(bucket)]
    frame = pd.DataFrame(rows, columns=["bucket", "realised"])
    return frame.groupby("bucket", as_index=False)["realised"].mean()


def signal_stats(panel: pd.DataFrame, signal: str, lag: int, costs_bps: float = 0.0,
                 ics: pd.DataFrame | None = None) -> dict:
    """The statistics of one signal on one panel (one path count), under the JSON keys of ``kronos batch
    --evaluate`` (``ics``: its ``per_date_ic`` when already computed)."""
    ics = per_date_ic(panel, signal) if ics is None else ics
    ic, rank_ic = ics["ic"].dropna(), ics["rank_ic"].dropna()
    ic_nw, rank_nw = newey_west(ic, lag), newey_west(rank_ic, lag)
    sp = spreads(panel, signal, costs_bps)
    ic_std = float(ic.std(ddof=1)) if len(ic) > 1 else float("nan")
    rank_ic_std = float(rank_ic.std(ddof=1)) if len(rank_ic) > 1 else float("nan")
    return {
        "ic_mean": float(ic.mean()) if len(ic) else float("nan"), "ic_std": ic_std,
        "ic_ir": information_ratio(ic, ic_std), "ic_nw_t": ic_nw.t, "ic_ci95": list(ic_nw.ci95),
        "rank_ic_mean": rank_nw.mean, "rank_ic_std": rank_ic_std, "rank_ic_ir": information_ratio(rank_ic, rank_ic_std),
        "rank_ic_nw_t": rank_nw.t, "rank_ic_ci95": list(rank_nw.ci95),
        "hit_rate": float((ic > 0).mean()) if len(ic) else float("nan"),
        "rank_hit_rate": float((rank_ic > 0).mean()) if len(rank_ic) else float("nan"),
        "spread_mean": float(sp["spread"].mean()) if len(sp) else float("nan"),
        "spread_after_costs_mean": float(sp["after_costs"].mean()) if len(sp) else float("nan"),
        "spread_cumulative": float(sp["cumulative"].iloc[-1]) if len(sp) else float("nan"),
        "turnover": float(sp["turnover"].mean()) if len(sp) else float("nan"),
        "dates": int(len(rank_ic)), "series": int(panel["series"].nunique()),
    }


def information_ratio(ics: pd.Series, std: float) -> float:
    """The mean of per-date ICs over their spread (NaN when the spread is 0 or undefined)."""
    return float(ics.mean() / std) if np.isfinite(std) and std > 0 else float("nan")


def paired(model_ics: pd.DataFrame, baseline_ics: pd.DataFrame, lag: int) -> dict:
    """The model's rank IC minus a baseline's (their ``per_date_ic``), date by date on the dates both have,
    with its Newey–West mean, t and 95% interval; ``beats`` when the whole interval is above 0."""
    diff = (model_ics.set_index("date")["rank_ic"] - baseline_ics.set_index("date")["rank_ic"]).dropna()
    test = newey_west(diff, lag)
    return {"rank_ic_diff_mean": test.mean, "rank_ic_diff_nw_t": test.t, "rank_ic_diff_ci95": list(test.ci95),
            "dates": int(len(diff)), "beats": bool(test.ci95[0] > 0)}


def check_panel(panel: pd.DataFrame) -> None:
    """Refuses (``RankSkillError``) a panel with fewer than ``MIN_DATES`` dates or ``MIN_SERIES_PER_DATE``
    series overall, with the numbers and the fix."""
    dates, series = int(panel["date"].nunique()) if len(panel) else 0, int(panel["series"].nunique()) if len(panel) else 0
    if series < MIN_SERIES_PER_DATE:
        raise RankSkillError(f"only {series} series could be ranked (at least {MIN_SERIES_PER_DATE} are needed for a "
                             "cross-section)", {"series": series, "needed": MIN_SERIES_PER_DATE},
                             Fix("add series to the watchlist, or fix the ones listed without bars"))
    if dates < MIN_DATES:
        raise RankSkillError(f"only {dates} usable cut-off dates (at least {MIN_DATES} are needed for an IC with an "
                             "interval)", {"dates": dates, "needed": MIN_DATES},
                             (Fix("ask for more cut-off dates ({setting})", "cutoffs"),
                              Fix("a smaller step between them ({setting})", "step"),
                              Fix("or series with more history in common")))


def rank_report(panel: pd.DataFrame, horizon: int, step: int, costs_bps: float = 0.0,
                overlap: int | None = None) -> dict:
    """Everything ``kronos batch --evaluate`` reports on a panel: per path count and signal the statistics
    (``signal_stats``), the baselines' (on the dates of the largest path count: they do not depend on it),
    and per path count and signal the paired comparison with each baseline. ``overlap``: the most later
    dates a forward return overlaps (``RankPanel.overlap``; None: as on one shared calendar)."""
    check_panel(panel)
    counts = sorted(int(p) for p in panel["paths"].unique())
    lag = newey_west_lag(int(panel["date"].nunique()), horizon, step, overlap)
    signals, vs = {}, {}
    for p in counts:
        part = panel[panel["paths"] == p]
        ics = {s: per_date_ic(part, s) for s in SIGNALS + BASELINES}
        signals[str(p)] = {s: signal_stats(part, s, lag, costs_bps, ics[s]) for s in SIGNALS}
        vs[str(p)] = {s: {b: paired(ics[s], ics[b], lag) for b in BASELINES} for s in SIGNALS}
    reference = panel[panel["paths"] == counts[-1]]  # the loop's last: ``ics`` are of this part
    baselines = {b: signal_stats(reference, b, lag, costs_bps, ics[b]) for b in BASELINES}
    return {"nw_lag": lag, "costs_bps": costs_bps, "paths": counts, "signals": signals, "baselines": baselines,
            "versus_baselines": vs}


def scaling_table(report: dict, signal: str = "expected_log_return") -> pd.DataFrame:
    """Rank IC (and its interval) of one signal per path count: the IC-vs-paths curve."""
    rows = [{"paths": int(p), "rank_ic_mean": s[signal]["rank_ic_mean"], "ci_low": s[signal]["rank_ic_ci95"][0],
             "ci_high": s[signal]["rank_ic_ci95"][1], "ic_mean": s[signal]["ic_mean"]}
            for p, s in report["signals"].items()]
    return pd.DataFrame(rows).sort_values("paths").reset_index(drop=True)
