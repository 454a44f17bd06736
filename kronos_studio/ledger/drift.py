"""Drift read from the ledger: is a model still calibrated, and still better than the random walk, on a
series? Per workspace, series and model, over its last ``DRIFT_LAST`` scored forecasts:

* **coverage**: the share of forecasts whose first forecast bar closed inside the p10–p90 band, with an
  exact two-sided binomial test against the nominal 0.80 (``scipy.stats.binomtest``);
* **PIT uniformity**: the first bar's PIT values tested against the uniform distribution with the
  Kolmogorov–Smirnov test (``scipy.stats.kstest``): it needs no bins, which 20–30 values fill poorly;
* **skill**: 1 - mean CRPS / the random walk's mean CRPS (% of the last close, each forecast's scored
  steps), with the paired bootstrap 95% interval the walk-forward uses (``trust.skill_interval``).

Why the first bar only (``DRIFT_STEP``): the steps of one forecast share its path, and forecasts made a
bar apart share most of their bars, so pooled steps are far from independent and both tests would be
overconfident. The first bar's PITs of forecasts made at different bars are independent and uniform for
a calibrated forecaster (Diebold, Gunther & Tay 1998), which is what both tests assume. One forecast per
last bar counts (the newest), so a fan recorded twice is not counted twice.

The ledger keeps no history, so the random walk is rebuilt from the bars the ledger knows: the one-bar
log-returns between each forecast's last close and its scored closes, over every forecast of the series.
Each forecast's reference is ``baselines.RandomWalk`` (the walk-forward's) with the volatility of the last
returns known at its last bar, never later ones. It needs the walk's whole window of them
(``RW_MIN_RETURNS``, 60): then it is the random walk the walk-forward scores on the same cut-off (the same
60 returns when the ledger knows the bars before it). A shorter window is another, noisier reference: on
hourly AAPL, 25 forecasts a bar apart gave 5 references from 20-24 returns, one of them a -9.8% earnings
gap, which inflated their volatility by 60% and the skill to +60% where the walk-forward's was +5%. A
forecast without a reference counts for coverage and PIT only; the skill is judged from ``MIN_SCORED``
forecasts with one, and not judged (saying how many there are) below that.

Forecasts made at other sampling settings than the defaults (experiments) are left out unless asked
for, as on the Track record page; an ensemble's member rows are left out (the ensemble is judged).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from scipy import stats

from kronos.config import BAR_COLUMNS
from kronos.errors import Fix, InputError
from kronos.lazy import np, pd
from kronos.quantiles import band_nominal
from kronos.settings import ForecastSettings
from kronos_studio.evaluation.baselines import RandomWalk
from kronos_studio.evaluation.metrics import crps_samples
from kronos_studio.evaluation.trust import skill_interval, skill_score

from .drift_window import DRIFT_LAST, MIN_SCORED
from .frames import SERIES, default_settings_only, workspaces

# The thresholds of drift: one home (docs/ledger.md#drift quotes them; the window's two in drift_window.py).
ALPHA = 0.01  # a p-value below this flags drift: two tests at 1% each keep a calibrated model's false alarms rare
DRIFT_STEP = 1  # the step coverage and PIT are read at (see above: independent across forecasts)
RW_PATHS = 200  # the random walk's paths (the walk-forward's baselines draw as many)
# one-bar returns known before a forecast for its random-walk reference: the walk's own volatility window, so
# the reference is the walk-forward's random walk and not a noisier one (see above)
RW_MIN_RETURNS = RandomWalk.window
NOMINAL = band_nominal()

OK, DRIFTING, TOO_FEW = "ok", "drifting", "too few scored forecasts"


@dataclass
class Drift:
    """The drift state of one model on one series of one workspace. ``scored``: forecasts judged;
    ``reasons``: which test flagged it and by how much (state ``drifting``) or what is missing;
    ``rolling``: one row per forecast, oldest first (``rolling_table``) for the chart."""

    workspace: str
    source: str
    symbol: str
    interval: str
    model: str
    state: str
    scored: int
    more_needed: int = 0
    coverage: float = float("nan")
    coverage_p_value: float = float("nan")
    pit_p_value: float = float("nan")
    skill: float = float("nan")
    skill_ci95: tuple[float, float] = (float("nan"), float("nan"))
    skill_forecasts: int = 0  # forecasts of the window with a random-walk reference: the skill rests on them
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was not judged, and why (the skill with too few references)
    experiments: int = 0  # forecasts at non-default settings left out
    rolling: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    @property
    def detail(self) -> str:
        """The state in words: 'ok', 'drifting: coverage 0.43 vs nominal 0.80 (binomial p = 3e-06)', then what
        was not judged: 'ok; skill not judged: 5 of the 20 forecasts it needs have a random-walk reference'."""
        said = self.state if not self.reasons else f"{self.state}: {'; '.join(self.reasons)}"
        return "; ".join([said, *self.notes])

    @property
    def skill_judged(self) -> bool:
        return self.skill_forecasts >= MIN_SCORED

    def numbers(self) -> str:
        """Every number with the forecasts it rests on: '25 scored; coverage 0.84 of 25 (binomial p 0.61),
        PIT p 0.43 of 25; skill +0.13 (95% interval +0.01 to +0.19) over 22 with a random-walk reference'."""
        if not np.isfinite(self.coverage):  # too few to judge
            return f"{self.scored} scored"
        n = self.scored
        skill = (f"skill {self.skill:+.2f} (95% interval {self.skill_ci95[0]:+.2f} to {self.skill_ci95[1]:+.2f}) over "
                 f"{self.skill_forecasts} with a random-walk reference" if self.skill_judged
                 else f"skill not judged ({self.skill_forecasts} of {MIN_SCORED})")
        return (f"{n} scored; coverage {self.coverage:.2f} of {n} (binomial p {self.coverage_p_value:.2g}), "
                f"PIT p {self.pit_p_value:.2g} of {n}; {skill}")

    def to_dict(self) -> dict:
        """The JSON entry of ``kronos ledger drift`` and the service (NaN as None)."""
        def num(x):
            return None if x is None or not np.isfinite(x) else float(x)

        return {"workspace": self.workspace, "source": self.source, "symbol": self.symbol,
                "interval": self.interval, "model": self.model, "state": self.state, "detail": self.detail,
                "scored": self.scored, "more_needed": self.more_needed, "coverage": num(self.coverage),
                "coverage_p_value": num(self.coverage_p_value), "pit_p_value": num(self.pit_p_value),
                "skill": num(self.skill), "skill_ci95": [num(self.skill_ci95[0]), num(self.skill_ci95[1])],
                "skill_forecasts": self.skill_forecasts, "experiments": self.experiments}


def drift_report(ledger, last: int = DRIFT_LAST, *, experiments: bool = False, rolling: bool = True,
                 **filters) -> list[Drift]:
    """The drift of every (workspace, series, model) in ``ledger`` (a scoped ledger: its workspace only)
    over the ``last`` newest scored forecasts; ``filters``: source, symbol, interval, models (as
    ``frames.conditions``). ``experiments``: count forecasts at non-default sampling settings too; ``rolling``
    False: the state alone, scoring only the ``last`` newest forecasts (a watch judges at every tick: its
    rolling chart would score every older forecast again each time)."""
    if last < MIN_SCORED:
        raise InputError(f"a drift window of {last} forecasts is below the {MIN_SCORED} scored forecasts a "
                         "drift test needs", {"last": last, "min_scored": MIN_SCORED},
                         Fix(f"judge {MIN_SCORED} or more ({{setting}})", "last"))

    names = [ledger.workspace] if ledger.workspace is not None else ledger.read(
        lambda conn: workspaces(conn, ledger.replay))
    out = []
    for name in names:
        book = ledger if ledger.workspace is not None else ledger.scoped(name)
        table = book.predictions_frame(member_rows=False, **filters)
        if table.empty:
            continue
        kept, left_out = (table, pd.Series(0, index=table.index)) if experiments else _split(table)
        series_filters = {k: v for k, v in filters.items() if k != "models"}
        steps = book.steps_frame(scored_only=True, **series_filters)
        for key, own in table.groupby(SERIES, sort=True):
            on_series = steps[(steps[SERIES] == pd.Series(key, index=SERIES)).all(axis=1)]
            returns = known_returns(on_series)
            for model, forecasts in own.groupby("model", sort=True):
                chosen = kept.loc[kept.index.intersection(forecasts.index)]
                per = forecast_scores(chosen, on_series, returns, newest=None if rolling else last)
                out.append(judge(per, last, name, *key, model, experiments=int(left_out.loc[forecasts.index].sum())))
    return out


def _split(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    kept, _ = default_settings_only(table)
    return kept, (table["non_default_settings"] != "").astype(int)


def known_returns(steps: pd.DataFrame) -> pd.Series:
    """The one-bar close-to-close log-returns the ledger knows of a series, by the time of the bar they end
    at (UTC), oldest first: each scored step against the close before it (the forecast's last close for
    step 1). Bars seen by several forecasts count once."""
    if steps.empty:
        return pd.Series(dtype=np.float64)
    s = steps.sort_values(["prediction_id", "step"])
    before = s.groupby("prediction_id")["actual_close"].shift(1)
    first = s["step"] == 1
    before = before.where(~first, s["last_close"])
    contiguous = first | (s["step"] - s.groupby("prediction_id")["step"].shift(1) == 1)
    r = np.log(s["actual_close"].to_numpy(np.float64) / before.to_numpy(np.float64))
    found = pd.Series(r, index=pd.DatetimeIndex(s["bar_time"]))[contiguous.to_numpy() & np.isfinite(r)]
    return found[~found.index.duplicated(keep="first")].sort_index()


def forecast_scores(forecasts: pd.DataFrame, steps: pd.DataFrame, returns: pd.Series,
                    newest: int | None = None) -> pd.DataFrame:
    """One row per scored forecast (one per last bar: the newest), oldest first: last_bar_at,
    prediction_id, covered and pit at ``DRIFT_STEP``, crps_pct (mean over its scored steps, % of its last
    close) and rw_crps_pct (its random walk's on the same steps; NaN without enough known returns).
    ``newest``: only that many, the newest by last bar."""
    columns = ["last_bar_at", "prediction_id", "covered", "pit", "crps_pct", "rw_crps_pct"]
    scored = forecasts[forecasts["scored_steps"] >= DRIFT_STEP]
    scored = scored.sort_values(["created_at", "prediction_id"]).drop_duplicates("last_bar_at", keep="last")
    if newest is not None:
        scored = scored.sort_values("last_bar_at").tail(newest)
        steps = steps[steps["prediction_id"].isin(scored["prediction_id"])]  # the others' steps are not read
    by_id = {pid: own.sort_values("step") for pid, own in steps.groupby("prediction_id")}
    rows = []
    for f in scored.sort_values("last_bar_at").itertuples(index=False):
        own = by_id.get(f.prediction_id, steps.iloc[:0])
        at = own[own["step"] == DRIFT_STEP]
        if at.empty:
            continue
        actual = own["actual_close"].to_numpy(np.float64)
        rows.append((f.last_bar_at, int(f.prediction_id), bool(at["covered"].iloc[0]), float(at["pit"].iloc[0]),
                     float(own["crps"].mean()) / abs(f.last_close) * 100,
                     _random_walk_crps_pct(f, own["step"].to_numpy(), actual, returns)))
    return pd.DataFrame(rows, columns=columns)


def _random_walk_crps_pct(forecast, steps: np.ndarray, actual: np.ndarray, returns: pd.Series) -> float:
    """The mean fair CRPS (% of the last close) of ``RandomWalk`` from the forecast's last bar, with the
    volatility of the returns known then, on the forecast's scored ``steps``; NaN with too few returns."""
    walk = RandomWalk(paths=RW_PATHS)
    end = int(returns.index.searchsorted(forecast.last_bar_at, side="right"))  # known at its last bar, not later
    known = returns.to_numpy()[max(0, end - walk.window):end]
    if len(known) < RW_MIN_RETURNS:
        return float("nan")
    # A history whose closes have exactly these returns and end at the forecast's last close: all the
    # baseline reads of it is the close-to-close returns of its last ``window`` bars.
    close = float(forecast.last_close) * np.exp(np.r_[0.0, np.cumsum(known)] - known.sum())
    history = pd.DataFrame({c: close if c in ("open", "high", "low", "close") else np.zeros_like(close)
                            for c in BAR_COLUMNS})
    drawn = walk.draw(history, None, ForecastSettings(horizon=int(steps.max()), seed=int(forecast.seed)))
    paths = drawn[:, :, BAR_COLUMNS.index("close")]
    return float(crps_samples(paths[:, steps - 1], actual).mean()) / abs(forecast.last_close) * 100


def judge(per: pd.DataFrame, last: int, workspace: str, source: str, symbol: str, interval: str, model: str,
          experiments: int = 0) -> Drift:
    """The ``Drift`` of one model on one series from its ``forecast_scores``."""
    window = per.tail(last)
    n = len(window)
    drift = Drift(workspace, source, symbol, interval, model, OK, n, experiments=experiments,
                  rolling=rolling_table(per, last))
    if n < MIN_SCORED:
        drift.state, drift.more_needed = TOO_FEW, MIN_SCORED - n
        drift.reasons = [f"{n} of the {MIN_SCORED} needed, {MIN_SCORED - n} more"]
        return drift
    hits = int(window["covered"].sum())
    drift.coverage = hits / n
    drift.coverage_p_value = float(stats.binomtest(hits, n, NOMINAL).pvalue)
    drift.pit_p_value = float(stats.kstest(window["pit"].to_numpy(), "uniform").pvalue)
    paired = window.dropna(subset=["rw_crps_pct"])
    drift.skill_forecasts = len(paired)
    if drift.skill_judged:  # fewer: a skill and an interval from a handful of overlapping forecasts mislead
        ours, theirs = paired["crps_pct"].to_numpy(), paired["rw_crps_pct"].to_numpy()
        drift.skill = skill_score(float(ours.mean()), float(theirs.mean()))
        drift.skill_ci95 = skill_interval(ours, theirs)
    else:
        drift.notes.append(f"skill not judged: {drift.skill_forecasts} of the {MIN_SCORED} forecasts it needs have a "
                           f"random-walk reference (one needs {RW_MIN_RETURNS} returns known before it)")
    if drift.coverage_p_value < ALPHA:
        drift.reasons.append(f"coverage {drift.coverage:.2f} vs nominal {NOMINAL:.2f} "
                             f"(binomial test p = {drift.coverage_p_value:.2g})")
    if drift.pit_p_value < ALPHA:
        drift.reasons.append(f"PIT not uniform (Kolmogorov-Smirnov p = {drift.pit_p_value:.2g})")
    if drift.skill_judged and drift.skill_ci95[1] < 0:
        drift.reasons.append(f"worse than the random walk: CRPS skill {drift.skill:+.2f} (95% interval "
                             f"{drift.skill_ci95[0]:+.2f} to {drift.skill_ci95[1]:+.2f})")
    if drift.reasons:
        drift.state = DRIFTING
    return drift


def rolling_table(per: pd.DataFrame, window: int) -> pd.DataFrame:
    """Per forecast (oldest first), over it and the ``window`` - 1 before: last_bar_at, forecasts, coverage
    and the band the binomial test accepts at ``ALPHA`` (coverage_low, coverage_high), and skill against
    the random walk (forecasts with a reference only). Rows before ``MIN_SCORED`` forecasts are NaN."""
    if per.empty:
        return pd.DataFrame(columns=["last_bar_at", "forecasts", "coverage", "coverage_low", "coverage_high", "skill"])
    covered = per["covered"].astype(np.float64).rolling(window, min_periods=MIN_SCORED)
    count = per["covered"].astype(np.float64).rolling(window, min_periods=1).count()
    paired = per["rw_crps_pct"].notna()
    ours = per["crps_pct"].where(paired).rolling(window, min_periods=MIN_SCORED).sum()
    theirs = per["rw_crps_pct"].rolling(window, min_periods=MIN_SCORED).sum()
    bounds = [accepted_coverage(int(n)) if n >= MIN_SCORED else (np.nan, np.nan) for n in count]
    return pd.DataFrame({"last_bar_at": per["last_bar_at"], "forecasts": count.astype("int64"),
                         "coverage": covered.mean(), "coverage_low": [b[0] for b in bounds],
                         "coverage_high": [b[1] for b in bounds], "skill": 1 - ours / theirs}).reset_index(drop=True)


@lru_cache(maxsize=256)
def accepted_coverage(n: int) -> tuple[float, float]:
    """The lowest and highest coverage of ``n`` forecasts the binomial test does not flag at ``ALPHA``:
    the chart's threshold lines."""
    ok = [k for k in range(n + 1) if stats.binomtest(k, n, NOMINAL).pvalue >= ALPHA]
    return ok[0] / n, ok[-1] / n
