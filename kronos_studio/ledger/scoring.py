"""Which recorded steps the bars that arrived can score, and their scores (numpy only).

Step ``k`` of a prediction is the ``k``-th bar after the last bar the forecast saw, whatever its
time: the position rule of the walk-forward (``kronos_studio.evaluation.walk_forward``), which also
holds where the forecast's calendar guessed a bar time that did not happen (an unforeseen holiday).
The scores themselves come from ``kronos_studio.evaluation.metrics.score_paths``, the function the
walk-forward scores with, so a forecast scored here matches a backtest on the same cut-off exactly.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from kronos.lazy import np, pd
from kronos.quantiles import DEFAULT_QUANTILES
from kronos_studio.evaluation.metrics import CRPS_ESTIMATOR, score_paths

QUANTILE_LEVELS = DEFAULT_QUANTILES  # the quantiles kept per step (any other comes from the stored paths)
ACTUAL_FIELDS = ("open", "high", "low", "close", "volume")
# The bars must show the close the forecast started from, within this share: otherwise the history was
# re-adjusted since (a split) or the name now means other data, and its steps would be scored against
# prices on another scale. Small dividend re-adjustments stay within it.
SAME_BAR_TOLERANCE = 0.005
# And the bars before it must be the very bars the forecast read: their times and open/high/low/close,
# kept as a hash (``history_fingerprint``). One close within the tolerance is not enough: another
# exchange's bars of the same pair (0.4% apart) or re-adjusted history would score the forecast. The last
# bar itself may still have been forming when the forecast was made: the tolerance above covers it.
FINGERPRINT_BARS = 16


@dataclass(frozen=True)
class Actuals:
    """A series' bars in time order, one per time: int64 UTC nanoseconds and [bars, 5] values."""

    times: np.ndarray
    values: np.ndarray

    @classmethod
    def of(cls, bars) -> Actuals:
        frame = bars.frame[["timestamp", *ACTUAL_FIELDS]]
        stamps = pd.DatetimeIndex(frame["timestamp"])
        stamps = stamps.tz_convert("UTC") if stamps.tz is not None else stamps.tz_localize("UTC")
        times = stamps.as_unit("ns").asi8
        order = np.argsort(times, kind="stable")
        times, values = times[order], frame[list(ACTUAL_FIELDS)].to_numpy(np.float64)[order]
        keep = np.r_[times[1:] != times[:-1], True]  # duplicated times: the last row wins, as the cache merges
        return cls(times[keep], values[keep])



def history_fingerprint(times: np.ndarray, ohlc: np.ndarray) -> str:
    """sha256 of bar times (int64 UTC nanoseconds) and open/high/low/close as float32: the same bars read
    again (a file, a download, a cache) give the same fingerprint; other prices or times do not."""
    digest = hashlib.sha256(np.ascontiguousarray(times, dtype="<i8").tobytes())
    digest.update(np.ascontiguousarray(ohlc, dtype="<f4").tobytes())
    return digest.hexdigest()


def _utc_nanoseconds(frame: pd.DataFrame) -> np.ndarray:
    stamps = pd.DatetimeIndex(frame["timestamp"])
    stamps = stamps.tz_convert("UTC") if stamps.tz is not None else stamps.tz_localize("UTC")
    return stamps.as_unit("ns").asi8


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """``history_fingerprint`` of every bar of ``frame`` (times and open/high/low/close): what the registry keeps of
    the window an adapter learned from."""
    return history_fingerprint(_utc_nanoseconds(frame), frame[list(ACTUAL_FIELDS[:4])].to_numpy(np.float64))


def window_held(frame: pd.DataFrame, first, last, bars: int, fingerprint: str) -> bool | None:
    """Whether ``frame``'s bars hold the window of ``bars`` bars from ``first`` to ``last`` whose fingerprint is
    ``fingerprint`` (``frame_fingerprint``) unchanged: True; other bars over its span (other prices or times: a
    split adjusted in since, another exchange's bars of the same name), False; None when they do not span it, so
    nothing can be compared."""
    times = _utc_nanoseconds(frame)
    lo, hi = pd.Timestamp(first).as_unit("ns").value, pd.Timestamp(last).as_unit("ns").value
    if not len(times) or times.min() > lo or times.max() < hi:
        return None
    inside = (times >= lo) & (times <= hi)
    return bool(inside.sum() == bars and frame_fingerprint(frame[inside]) == fingerprint)


def fingerprint_of_history(history: pd.DataFrame) -> tuple[str, int]:
    """(fingerprint, bars) of the up to FINGERPRINT_BARS history bars before the last one a forecast read."""
    stamps = pd.DatetimeIndex(history["timestamp"])
    stamps = stamps.tz_convert("UTC") if stamps.tz is not None else stamps.tz_localize("UTC")
    n = min(FINGERPRINT_BARS, len(history) - 1)
    rows = slice(len(history) - 1 - n, len(history) - 1)
    ohlc = history[list(ACTUAL_FIELDS[:4])].to_numpy(np.float64)[rows]
    return history_fingerprint(stamps.as_unit("ns").asi8[rows], ohlc), n


@dataclass(frozen=True)
class Due:
    prediction_id: int
    first_step: int
    last_step: int
    row: int  # position of the prediction's last bar in the Actuals


def plan(candidates, actual: Actuals) -> tuple[list[Due], dict[int, str]]:
    """``candidates``: (id, last_bar_at, last_close, horizon, steps scored, history fingerprint, its bars)
    of predictions not fully scored. Returns what ``actual`` can score now, and why some cannot be scored
    with these bars (prediction id -> reason): they wait for bars that continue the history they read."""
    due, waiting = [], {}
    close = ACTUAL_FIELDS.index("close")
    for pid, last_bar_at, last_close, horizon, n_scored, fingerprint, fingerprint_bars in candidates:
        t = pd.Timestamp(last_bar_at).as_unit("ns").value
        i = int(np.searchsorted(actual.times, t))
        if i >= len(actual.times) or actual.times[i] != t:
            waiting[int(pid)] = f"the bars have no bar at its last bar time {pd.Timestamp(t, tz='UTC')}"
            continue
        seen = actual.values[i, close]
        if not abs(seen / last_close - 1) <= SAME_BAR_TOLERANCE:
            waiting[int(pid)] = (f"the bars' close at its last bar is {seen:.6g}, the forecast saw {last_close:.6g} "
                                 "(re-adjusted history, e.g. a split, or another source's bars): not scored")
            continue
        if fingerprint is not None:
            n = int(fingerprint_bars)
            if i < n or history_fingerprint(actual.times[i - n:i], actual.values[i - n:i, :4]) != fingerprint:
                waiting[int(pid)] = (
                    f"the bars do not continue the history it read: the {n} bars before its last bar "
                    f"({pd.Timestamp(t, tz='UTC'):%Y-%m-%d %H:%M} UTC) differ in time or open/high/low/close from "
                    "those the forecast saw (another exchange's or source's bars of the same name, or re-adjusted "
                    "history); it waits for bars of the series it was made from")
                continue
        ahead = actual.values[i + 1:i + 1 + horizon]
        bad = np.flatnonzero(np.isnan(ahead).any(axis=1))  # a bar with a missing value ends what can be scored
        available = int(bad[0]) if len(bad) else len(ahead)
        if available > n_scored:
            due.append(Due(int(pid), int(n_scored) + 1, available, i))
    return due, waiting


def evaluation_rows(due: Due, close_paths: np.ndarray, last_close: float, actual: Actuals) -> list[dict]:
    """``evaluations`` rows (without scored_at) for ``due``'s steps; ``close_paths`` [paths, horizon]."""
    steps = np.arange(due.first_step, due.last_step + 1)
    bars = actual.values[due.row + steps]
    scores = score_paths(close_paths[:, steps - 1], bars[:, ACTUAL_FIELDS.index("close")], float(last_close))
    times = pd.DatetimeIndex(actual.times[due.row + steps].astype("datetime64[ns]")).tz_localize("UTC")
    return [{"prediction_id": due.prediction_id, "step": int(step), "bar_time": times[j].to_pydatetime(),
             **{f"actual_{f}": float(bars[j, k]) for k, f in enumerate(ACTUAL_FIELDS)},
             "crps": float(scores["crps"][j]), "crps_estimator": CRPS_ESTIMATOR, "pit": float(scores["pit"][j]),
             "covered": bool(scores["covered"][j]), "direction_hit": bool(scores["direction_hit"][j])}
            for j, step in enumerate(steps)]
