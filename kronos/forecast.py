"""Forecaster: bars in, Forecast out (every sampled path in price units, quantiles, the mean path,
future timestamps, settings and provenance)."""
from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from .config import PRICE_COLUMNS
from .generate import Progress, Prompt, generate
from .hub import KronosPair
from .sampling import SamplingConfig
from .timefeatures import time_features

FutureTimestamps = Callable[[pd.DatetimeIndex, int], pd.DatetimeIndex]
Events = Callable[[pd.DatetimeIndex, pd.DatetimeIndex], np.ndarray]


def session_future_timestamps(timestamps: pd.DatetimeIndex, horizon: int, *, calendar: str | None = None,
                              interval: str | None = None) -> pd.DatetimeIndex:
    """The one rule for future bar times: the bars' trading calendar (exchange sessions, 24/7 crypto,
    the weekly FX session), or the history's own rhythm when the calendar is unknown."""
    from data_sources.calendars import future_timestamps

    return future_timestamps(timestamps, horizon, interval=interval, calendar=calendar)
DEFAULT_QUANTILES = (0.1, 0.5, 0.9)
NORM_EPS = 1e-5
DECODE_CHUNK = 64  # paths decoded per tokenizer pass, to bound memory for large path counts


class InputError(ValueError):
    """Bars or settings that cannot be forecast, with what is wrong and how to fix it."""


@dataclass(frozen=True)
class ForecastSettings:
    horizon: int
    paths: int = 30
    seed: int = 0
    temperature: float = 1.0
    top_p: float = 0.9
    top_k: int = 0
    lookback: int | None = None  # None: as many bars as the model's context
    clip: float = 5.0

    def __post_init__(self):
        if self.horizon < 1:
            raise InputError(f"horizon must be at least 1 bar, got {self.horizon}")
        if self.paths < 1:
            raise InputError(f"paths must be at least 1, got {self.paths}")
        if self.lookback is not None and self.lookback < 2:
            raise InputError(f"lookback must be at least 2 bars, got {self.lookback}")
        try:
            self.sampling
        except ValueError as e:
            raise InputError(str(e)) from None

    @property
    def sampling(self) -> SamplingConfig:
        return SamplingConfig(self.temperature, self.top_k, self.top_p)


def level_name(level: float) -> str:
    """0.1 -> 'p10', 0.025 -> 'p2.5'."""
    return f"p{round(level * 100, 6):g}"


@dataclass
class Forecast:
    timestamps: pd.DatetimeIndex  # future bar times, length horizon
    paths: np.ndarray  # [paths, horizon, 6] float32, price units, columns PRICE_COLUMNS
    mean: np.ndarray  # [horizon, 6]: the official predictor's output (mean in normalised space)
    history: pd.DataFrame  # the context bars used: timestamp + PRICE_COLUMNS
    settings: ForecastSettings
    provenance: dict = field(default_factory=dict)

    columns = PRICE_COLUMNS

    def quantiles(self, levels: Sequence[float] = DEFAULT_QUANTILES) -> pd.DataFrame:
        """One row per future timestamp; columns like ``close_p10`` for every field and level."""
        levels = [float(q) for q in levels]
        if any(not 0 <= q <= 1 for q in levels):
            raise InputError(f"quantile levels must lie in [0, 1], got {levels}")
        q = np.quantile(self.paths, levels, axis=0)  # [levels, horizon, 6]
        data = {f"{col}_{level_name(lv)}": q[i, :, j]
                for j, col in enumerate(self.columns) for i, lv in enumerate(levels)}
        return pd.DataFrame(data, index=pd.Index(self.timestamps, name="timestamp"))

    def mean_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.mean, columns=list(self.columns), index=pd.Index(self.timestamps, name="timestamp"))

    def paths_frame(self) -> pd.DataFrame:
        """Long table: one row per (path, timestamp)."""
        s, p, _ = self.paths.shape
        frame = pd.DataFrame(self.paths.reshape(s * p, -1), columns=list(self.columns))
        frame.insert(0, "timestamp", np.tile(self.timestamps, s))
        frame.insert(0, "path", np.repeat(np.arange(s), p))
        return frame


def bars_frame(bars) -> pd.DataFrame:
    """Accept a Bars object (``.frame``) or a DataFrame with a timestamp column or DatetimeIndex;
    return a frame with a ``timestamp`` column and the price columns, validated."""
    df = getattr(bars, "frame", bars)
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"expected a DataFrame of bars, got {type(df).__name__}")
    df = df.rename(columns=str.lower)
    ts_col = next((c for c in ("timestamp", "timestamps", "date", "datetime") if c in df.columns), None)
    if ts_col is not None:
        ts = pd.DatetimeIndex(pd.to_datetime(df[ts_col]))
    elif isinstance(df.index, pd.DatetimeIndex):
        ts = df.index
    else:
        raise InputError("the bars have no timestamps: add a 'timestamp' column or use a DatetimeIndex")
    missing = [c for c in ("open", "high", "low", "close") if c not in df.columns]
    if missing:
        raise InputError(f"the bars lack columns {missing}; columns found: {list(df.columns)}")
    out = pd.DataFrame({"timestamp": ts})
    for c in ("open", "high", "low", "close"):
        out[c] = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=np.float64)
    if "volume" in df.columns:
        out["volume"] = pd.to_numeric(df["volume"], errors="coerce").to_numpy(dtype=np.float64)
        if "amount" in df.columns:
            out["amount"] = pd.to_numeric(df["amount"], errors="coerce").to_numpy(dtype=np.float64)
        else:  # turnover estimate, as upstream: volume x mean price
            out["amount"] = out["volume"] * out[["open", "high", "low", "close"]].mean(axis=1)
    else:
        out["volume"], out["amount"] = 0.0, 0.0
    bad = out[list(PRICE_COLUMNS)].isna().any(axis=1)
    if bad.any():
        first = out.loc[bad, "timestamp"].iloc[0]
        raise InputError(f"{int(bad.sum())} bars have missing or non-numeric values (first at {first}); "
                         "drop or fill them before forecasting")
    if out["timestamp"].isna().any():
        raise InputError("some timestamps could not be parsed; fix or drop those rows")
    if not out["timestamp"].is_monotonic_increasing or out["timestamp"].duplicated().any():
        raise InputError("timestamps must be strictly increasing: sort the bars and drop duplicate timestamps")
    if len(out) < 2:
        raise InputError(f"need at least 2 bars to forecast, got {len(out)}")
    return out


@dataclass
class _Prepared:
    history: pd.DataFrame
    future: pd.DatetimeIndex
    mu: np.ndarray
    sigma: np.ndarray
    normalized: np.ndarray
    digest: str


def normalization_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column float32 mean and population std, each reduced over a contiguous column (this is
    what makes them bit-identical to upstream's)."""
    cols = [np.ascontiguousarray(x[:, j]) for j in range(x.shape[1])]
    mu = np.array([c.mean() for c in cols], dtype=np.float32)
    sigma = np.array([c.std() for c in cols], dtype=np.float32)
    return mu, sigma


def input_digest(history: pd.DataFrame) -> str:
    h = hashlib.sha256()
    h.update(history["timestamp"].astype(str).str.cat(sep="|").encode())
    h.update(np.ascontiguousarray(history[list(PRICE_COLUMNS)].to_numpy(np.float64)).tobytes())
    return h.hexdigest()[:16]


class Forecaster:
    """Stateless apart from the (read-only) model: safe to share between threads."""

    def __init__(self, pair: KronosPair, future_timestamps: FutureTimestamps | None = None):
        """``future_timestamps`` overrides the calendar rule (``session_future_timestamps``, which reads
        the calendar and interval from a ``Bars`` object's metadata)."""
        self.pair = pair
        self.future_timestamps = future_timestamps

    def _prepare(self, bars, settings: ForecastSettings, future) -> _Prepared:
        frame = bars_frame(bars)
        lookback = settings.lookback or self.pair.context
        if settings.lookback is not None and len(frame) < settings.lookback:
            raise InputError(f"lookback is {settings.lookback} bars but only {len(frame)} are available: "
                             "lower the lookback or load more history")
        history = frame.iloc[-lookback:].reset_index(drop=True)
        ts = pd.DatetimeIndex(history["timestamp"])
        if future is None and self.future_timestamps is not None:
            future = self.future_timestamps(ts, settings.horizon)
        elif future is None:
            future = session_future_timestamps(ts, settings.horizon, calendar=getattr(bars, "calendar", None),
                                               interval=getattr(bars, "interval", None))
        future = pd.DatetimeIndex(future)
        if len(future) != settings.horizon:
            raise InputError(f"got {len(future)} future timestamps for a horizon of {settings.horizon}")
        x = history[list(PRICE_COLUMNS)].to_numpy(np.float32)
        mu, sigma = normalization_stats(x)
        xn = np.clip((x - mu) / (sigma + NORM_EPS), -settings.clip, settings.clip)
        return _Prepared(history, future, mu, sigma, xn, input_digest(history))

    def forecast(self, bars, horizon: int | None = None, *, settings: ForecastSettings | None = None,
                 future_timestamps=None, events: Events | None = None, progress: Progress | None = None,
                 **kwargs) -> Forecast:
        """Forecast one series. Pass ``settings`` or the ForecastSettings fields as keywords.

        ``events`` (needs a model with an event encoder) maps (history timestamps, future timestamps)
        to an array [len(history) + horizon, channels] of exogenous inputs for those bars."""
        return self.forecast_batch([bars], horizon, settings=settings,
                                   future_timestamps=None if future_timestamps is None else [future_timestamps],
                                   events=events, progress=progress, **kwargs)[0]

    @torch.no_grad()
    def forecast_batch(self, bars_list: Sequence, horizon: int | None = None, *,
                       settings: ForecastSettings | None = None, future_timestamps: Sequence | None = None,
                       events: Events | None = None, progress: Progress | None = None,
                       **kwargs) -> list[Forecast]:
        """Forecast several series in one batched run; lengths may differ. The random stream is
        shared by the batch, so sampled paths differ from one-at-a-time runs with the same seed."""
        if settings is None:
            settings = ForecastSettings(horizon=horizon, **kwargs)
        elif horizon is not None or kwargs:
            raise TypeError("pass either settings or individual settings fields, not both")
        if not bars_list:
            raise InputError("no series to forecast")
        started = time.perf_counter()
        futures = future_timestamps or [None] * len(bars_list)
        prepared = [self._prepare(b, settings, f) for b, f in zip(bars_list, futures)]
        pair = self.pair
        device = pair.device
        prompts = []
        for p in prepared:
            x = torch.from_numpy(p.normalized).to(device)[None]
            s1, s2 = pair.tokenizer.encode(x)
            stamps = np.concatenate([time_features(p.history["timestamp"]), time_features(p.future)])
            prompts.append(Prompt(s1[0], s2[0], torch.from_numpy(stamps).to(device),
                                  None if events is None else self._event_matrix(events, p, device)))
        generator = torch.Generator(device=device).manual_seed(int(settings.seed))
        tokens = generate(pair.predictor, prompts, settings.horizon, settings.paths, pair.context,
                          settings.sampling, generator, progress)
        results = []
        for p, (s1, s2) in zip(prepared, tokens):
            norm = self._decode(s1, s2, settings.horizon)
            paths = norm * (p.sigma + NORM_EPS) + p.mu
            mean = norm.mean(axis=0) * (p.sigma + NORM_EPS) + p.mu
            provenance = {
                **pair.provenance(),
                "device": str(device),
                "events": events is not None,
                "seed": int(settings.seed),
                "input_sha256": p.digest,
                "history_start": str(p.history["timestamp"].iloc[0]),
                "history_end": str(p.history["timestamp"].iloc[-1]),
                "bars_used": len(p.history),
                "settings": dataclasses.asdict(settings),
                "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "elapsed_s": round(time.perf_counter() - started, 3),
            }
            results.append(Forecast(p.future, paths.astype(np.float32), mean.astype(np.float32), p.history,
                                    settings, provenance))
        return results

    def _event_matrix(self, events: Events, p: _Prepared, device) -> torch.Tensor:
        encoder = self.pair.predictor.event_emb
        if encoder is None:
            raise InputError("events were given but this model has no event encoder: load an event adapter")
        channels = encoder.in_features
        matrix = np.asarray(events(pd.DatetimeIndex(p.history["timestamp"]), p.future), dtype=np.float32)
        expected = (len(p.history) + len(p.future), channels)
        if matrix.shape != expected:
            raise InputError(f"the event matrix has shape {matrix.shape}, expected {expected} "
                             "(history bars + horizon, event channels)")
        if not np.isfinite(matrix).all():
            raise InputError("the event matrix has missing or infinite values")
        return torch.from_numpy(matrix).to(device)

    def _decode(self, s1: torch.Tensor, s2: torch.Tensor, horizon: int) -> np.ndarray:
        """Decode each path's last ``context`` tokens as one causal sequence (as upstream) and keep the
        horizon. The window's context part is the same for every path, so it is decoded once."""
        window = min(s1.shape[1], self.pair.context)
        s1, s2 = s1[:, -window:], s2[:, -window:]
        shared = max(window - horizon, 0)
        p1, p2 = s1[:1, :shared], s2[:1, :shared]
        parts = [self.pair.tokenizer.decode_continuations(p1, p2, s1[i:i + DECODE_CHUNK, shared:],
                                                          s2[i:i + DECODE_CHUNK, shared:])[:, -horizon:]
                 for i in range(0, s1.shape[0], DECODE_CHUNK)]
        return torch.cat(parts).float().cpu().numpy()
