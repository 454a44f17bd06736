"""One result row per forecast: what a screener sorts and filters on, computed from the sampled paths.

All returns are relative to the last close of the history; the statistics are the ones of
``kronos_studio.evaluation.path_stats`` (touch probabilities intrabar, drawdowns on closes).
"""
from __future__ import annotations

from kronos.config import BAR_COLUMNS
from kronos.lazy import np, pd
from kronos.quantiles import BAND, DEFAULT_QUANTILES, path_quantiles
from kronos_studio.evaluation import path_stats
from kronos_studio.risk.measures import RiskSettings, path_risk
from kronos_studio.risk.registry import MEASURES, row_prefixes
from kronos_studio.risk.volatility import volatility_forecast

STEP_LEVELS = DEFAULT_QUANTILES  # the quantiles every step reports
STEP_FIELDS = ("open", "high", "low", "close", "volume")
DEFAULT_TOUCH_LEVELS = (-0.05, 0.05)


def bad_touch_levels(levels) -> list[float]:
    """Touch levels that are not returns a path can reach: 0, or at or below -100% (or absurdly high)."""
    return [v for v in levels if not -1 < v < 10 or v == 0]


def touch_column(level: float) -> str:
    """``p_touch_-5%`` for -0.05, ``p_touch_+10%`` for 0.1."""
    return f"p_touch_{level * 100:+g}%"


def summarize(paths: np.ndarray, last_close: float, touch_levels=DEFAULT_TOUCH_LEVELS) -> dict:
    """Screening statistics of paths [paths, horizon, 6] (BAR_COLUMNS, price units), from
    ``kronos_studio.evaluation.path_stats`` like the Forecast page's."""
    low_q, high_q = path_stats.band_at_horizon(paths, BAND)
    row = {
        "p_up": path_stats.prob_up(paths, last_close),
        "expected_return": path_stats.expected_return(paths, last_close),
        "close_p10": low_q,
        "close_p50": float(np.median(path_stats.at_horizon(paths))),
        "close_p90": high_q,
        "band_width": (high_q - low_q) / last_close,
        "expected_max_drawdown": float(path_stats.max_drawdowns(paths, last_close).mean()),
    }
    for level in touch_levels:
        row[touch_column(level)] = float(path_stats.touched(paths, last_close * (1.0 + level), last_close).mean())
    return row


def risk_column(measure: str, position: str, level: float) -> str:
    """``var_long_99`` for a long position's 0.99 VaR, ``es_short_97.5`` for a short one's 0.975 ES (the measure's
    own naming: ``risk.registry.RiskMeasure.column``)."""
    return MEASURES[measure].column(position, level)


VOL_METHOD = "close_to_close"  # the realized volatility a row reports (the paths carry no reliable range for all models)
# per bar (the forecast: sqrt of the mean variance over paths), its interval across paths, over the horizon
VOL_COLUMNS = ("vol_bar", "vol_bar_low", "vol_bar_high", "vol_horizon")
def risk_columns(columns) -> list[str]:
    """The risk columns among ``columns`` (``risk_summary``'s), in their order: a measure's of the registry, the
    volatility's, the notes (``registry.row_prefixes``)."""
    prefixes = row_prefixes()
    return [c for c in columns if str(c).startswith(prefixes)]


def risk_summary(forecast, risk: RiskSettings) -> dict:
    """A row's risk columns, read from ``forecast``'s paths by the risk library (``path_risk``,
    ``volatility_forecast``: the numbers ``kronos risk`` shows for the same paths): VaR and ES of the horizon
    return per position and level with their Monte-Carlo errors and the paths the ES rests on, the paths'
    close-to-close realized volatility (per bar with its interval across paths, and over the horizon),
    ``risk_paths_needed`` where an ES rests on too few paths (the count the library's notice asks for) and
    the VaR/ES notices in words (``risk_notes``; the volatility's own notices are of the range estimators and the
    history, which a row does not report)."""
    path = path_risk(forecast, risk)
    row = {}
    for t in path.horizon:
        for m in MEASURES.values():  # each measure of the registry, with the details the downloads add
            row[m.column(t.position, t.level)] = m.value(t)
            row |= {m.column(t.position, t.level) + suffix: getattr(t, name) for suffix, name in m.details}
    vol = volatility_forecast(forecast, risk, models=False)
    reading = next((r for r in vol.readings if r.method == VOL_METHOD and r.source == "paths"), None)
    row |= dict(zip(VOL_COLUMNS, (reading.per_bar, reading.low, reading.high, reading.horizon))) \
        if reading is not None else dict.fromkeys(VOL_COLUMNS, float("nan"))
    needed = [n.values["needed"] for n in path.notices if "needed" in n.values]
    row["risk_paths_needed"] = max(needed) if needed else None
    row["risk_notes"] = "; ".join(n.worded() for n in path.notices)
    return row


def utc(timestamps) -> pd.DatetimeIndex:
    """Bar times in UTC, so that series from different markets share one column type."""
    ts = pd.DatetimeIndex(timestamps)
    return ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")


def step_quantiles(series: str, timestamps: pd.DatetimeIndex, paths: np.ndarray) -> pd.DataFrame:
    """Long table: one row per future bar of one series, ``close_p10``... for each field and level."""
    q = path_quantiles(paths, STEP_LEVELS)  # [levels, horizon, 6]
    columns = {"series": series, "step": np.arange(1, paths.shape[1] + 1), "timestamp": utc(timestamps)}
    for field in STEP_FIELDS:
        j = BAR_COLUMNS.index(field)
        for i, level in enumerate(STEP_LEVELS):
            columns[f"{field}_p{round(level * 100)}"] = q[i, :, j]
    return pd.DataFrame(columns)
