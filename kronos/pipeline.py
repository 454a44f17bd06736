"""The forecast pipeline: bars in, ``Forecast`` out (every sampled path in price units, quantiles, the
mean path, future timestamps, settings and provenance).

    pipeline = KronosPipeline.from_pretrained("mini")           # or a local folder
    forecast = pipeline.predict(bars, horizon=24, paths=100)   # Forecast: paths [100, 24, 6]
    table = pipeline.predict_quantiles(bars, horizon=24, levels=(0.1, 0.5, 0.9))

The pipeline is the runner around the model (as gpt-fast's ``generate`` compiles ``decode_one_token``
outside its model): it hands the model the speed-up wing's products (``kronos.accel.AccelProducts``, through
``kronos.layers.hand_products``) and runs the decode loop with the decoders it chose
(``kronos.accel.static_decode``). The model modules (``layers``, ``model``, ``tokenizer``, ``generate``)
import nothing of ``kronos.accel``.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kronos.lazy import np, pd, torch

from .accel import AccelProducts, resolve_decode
from .accel.static_decode import StaticDecoding, decoder_pool, generate_static
from .bars import InputError, bars_frame, rhythm_future_timestamps
from .checkpoints import KronosPair, load_pair
from .config import BAR_COLUMNS, CLOSE, default_lookback
from .forecast import Forecast, history_provenance
from .generate import Progress, Prompt, generate
from .layers import hand_products
from .normalization import denormalize, normalization_stats, normalize
from .quantiles import DEFAULT_QUANTILES
from .settings import ForecastSettings
from .timefeatures import time_features

# (bars as given, history timestamps, horizon) -> the horizon's bar times: the hook through which the
# studio supplies exchange calendars; without one the history's own rhythm is followed.
FutureTimestamps = Callable[[object, pd.DatetimeIndex, int], pd.DatetimeIndex]
Events = Callable[[pd.DatetimeIndex, pd.DatetimeIndex], np.ndarray]

DECODE_TOKENS = 8192  # generated tokens decoded per tokenizer pass, to bound memory for many paths or series


@dataclass
class _Prepared:
    history: pd.DataFrame
    future: pd.DatetimeIndex
    mu: np.ndarray
    sigma: np.ndarray
    normalized: np.ndarray


class KronosPipeline:
    """A tokenizer + predictor pair and the rules around them. Stateless apart from the (read-only)
    model and, for decode='static'/'graphs'/'compiled', a pool of decode buffers that a forecast takes out while it
    runs: one pipeline serves many threads."""

    def __init__(self, pair: KronosPair, future_timestamps: FutureTimestamps | None = None,
                 decode: str | None = None):
        """``future_timestamps(bars, history_timestamps, horizon)`` gives the horizon's bar times
        (e.g. from an exchange calendar); by default the history's own rhythm is followed.

        ``decode``: how the decode loop runs, 'eager', 'static' (fixed shapes), 'graphs' (CUDA graphs of
        the static steps, CUDA only) or 'compiled' (the static steps compiled on a background thread; the
        eager ones run until a shape is compiled); default in ``kronos.accel.resolve_decode``. Greedy
        output is the same in every mode (compiled: to float rounding); so are sampled paths on the CPU
        (on CUDA, static/graphs draw their noise up front, which gives other paths for a seed than eager:
        see ``kronos.accel.static_decode``). The provenance's ``decode`` says which steps ran."""
        self.pair = pair
        for model in (pair.tokenizer, pair.predictor):  # the fused and packed products, from outside the model
            hand_products(model, AccelProducts)
        self.future_timestamps = future_timestamps
        self.decode = resolve_decode(decode, pair.device)
        self._decoders = decoder_pool(pair.predictor)  # decoders kept between forecasts, per shape and model

    @classmethod
    def from_pretrained(cls, model, tokenizer=None, *, revision: str | None = None, cache_dir=None,
                        device=None, future_timestamps: FutureTimestamps | None = None,
                        precision: str | None = None, decode: str | None = None) -> KronosPipeline:
        """Load an official name (``mini``, ``small``, ``base``), a Hub repo id or a local folder.
        ``precision``: 'fp32' (default, the official numerics) or 'bf16' (see ``kronos.device``);
        ``decode``: see ``__init__``."""
        pair = load_pair(model, tokenizer, revision=revision, cache_dir=cache_dir, device=device,
                         precision=precision)
        return cls(pair, future_timestamps, decode)

    def wait_for_compilation(self, timeout: float | None = None) -> None:
        """decode='compiled': wait until the shapes being compiled in the background are ready (a warm-up
        that must finish before serving; tests). Returns at once when nothing is being compiled."""
        self._decoders.wait_for_builds(timeout)

    def compile_failures(self) -> dict[str, str]:
        """decode='compiled': why a shape could not be compiled (its forecasts run the eager steps)."""
        return {str(key[0]): why for key, why in self._decoders.failed.items()}

    @property
    def context(self) -> int:
        return self.pair.context

    def window(self, bars, settings: ForecastSettings, future=None) -> tuple[pd.DataFrame, pd.DatetimeIndex]:
        """(the history a forecast of ``bars`` reads, its future bar times), the library's rule: the last
        ``settings.lookback`` bars (default ``default_lookback``), ``future`` or the ``future_timestamps``
        hook's times (default: the history's rhythm). The studio decides both in its forecaster seam
        (``kronos_studio.forecasters.window``) and calls ``sample``."""
        frame = bars_frame(bars)
        lookback = settings.lookback or default_lookback(self.pair.context, settings.horizon)
        if settings.lookback is not None and len(frame) < settings.lookback:
            raise InputError(f"lookback is {settings.lookback} bars but only {len(frame)} are available: "
                             "lower the lookback or load more history")
        history = frame.iloc[-lookback:].reset_index(drop=True)
        ts = pd.DatetimeIndex(history["timestamp"])
        if future is None and self.future_timestamps is not None:
            future = self.future_timestamps(bars, ts, settings.horizon)
        elif future is None:
            future = rhythm_future_timestamps(ts, settings.horizon)
        future = pd.DatetimeIndex(future)
        if len(future) != settings.horizon:
            raise InputError(f"got {len(future)} future timestamps for a horizon of {settings.horizon}")
        return history, future

    def _prepare(self, bars, settings: ForecastSettings, future) -> _Prepared:
        return self._normalized(*self.window(bars, settings, future), settings.clip)

    @staticmethod
    def _normalized(history: pd.DataFrame, future, clip: float) -> _Prepared:
        x = history[list(BAR_COLUMNS)].to_numpy(np.float32)
        mu, sigma = normalization_stats(x)
        return _Prepared(history, pd.DatetimeIndex(future), mu, sigma, normalize(x, mu, sigma, clip))

    def predict(self, bars, horizon: int | None = None, *, settings: ForecastSettings | None = None,
                 future_timestamps=None, events: Events | None = None, progress: Progress | None = None,
                 **kwargs) -> Forecast:
        """Forecast one series. Pass ``settings`` or the ForecastSettings fields as keywords.

        ``events`` (needs a model with an event encoder) maps (history timestamps, future timestamps)
        to an array [len(history) + horizon, channels] of exogenous inputs for those bars."""
        return self.predict_batch([bars], horizon, settings=settings,
                                  future_timestamps=None if future_timestamps is None else [future_timestamps],
                                  events=events, progress=progress, **kwargs)[0]

    def predict_quantiles(self, bars, horizon: int | None = None, levels: Sequence[float] = DEFAULT_QUANTILES,
                          **kwargs) -> pd.DataFrame:
        """One row per future bar, a column per bar field and level (``close_p10``, ...)."""
        return self.predict(bars, horizon, **kwargs).quantiles(levels)

    @torch.no_grad()
    def predict_batch(self, bars_list: Sequence, horizon: int | None = None, *,
                      settings: ForecastSettings | None = None, future_timestamps: Sequence | None = None,
                      events: Events | None = None, progress: Progress | None = None,
                      per_series_stream: bool = False, **kwargs) -> list[Forecast]:
        """Forecast several series in one batched run; lengths may differ.

        By default the batch shares one random stream, so sampled paths differ from one-at-a-time runs
        with the same seed. ``per_series_stream=True`` gives each series its own stream seeded with
        ``seed``: a series then gets the paths a run of it alone gives, whatever else is in the batch."""
        if settings is None:
            settings = ForecastSettings(horizon=horizon, **kwargs)
        elif horizon is not None or kwargs:
            raise TypeError("pass either settings or individual settings fields, not both")
        if not bars_list:
            raise InputError("no series to forecast")
        started = time.perf_counter()
        futures = future_timestamps or [None] * len(bars_list)
        windows = [self.window(b, settings, f) for b, f in zip(bars_list, futures)]
        forecasts = self.sample([h for h, _ in windows], [f for _, f in windows], settings, events=events,
                                progress=progress, per_series_stream=per_series_stream)
        for fc in forecasts:
            fc.provenance.update(history_provenance(fc.history, settings, started))
        return forecasts

    @torch.no_grad()
    def sample(self, histories: Sequence[pd.DataFrame], futures: Sequence, settings: ForecastSettings, *,
               events: Events | None = None, progress: Progress | None = None,
               per_series_stream: bool = False) -> list[Forecast]:
        """Forecast each of ``histories`` (bar frames, read whole: no lookback is applied) at its ``futures``
        bar times; ``predict_batch``'s other arguments. The provenance describes the model and how it
        sampled; what the history was is the caller's to record (``kronos.forecast.history_provenance``)."""
        prepared = [self._normalized(h, f, settings.clip) for h, f in zip(histories, futures)]
        pair = self.pair
        device = pair.device
        codes = self._encode(prepared)
        prompts = []
        for p, (s1, s2) in zip(prepared, codes):
            stamps = np.concatenate([time_features(p.history["timestamp"]), time_features(p.future)])
            prompts.append(Prompt(s1, s2, torch.from_numpy(stamps).to(device),
                                  None if events is None else self._event_matrix(events, p, device)))
        seed = int(settings.seed)
        if per_series_stream:
            generator = [torch.Generator(device=device).manual_seed(seed) for _ in prompts]
        else:
            generator = torch.Generator(device=device).manual_seed(seed)
        decode = {"decode": self.decode}  # what ran: compiled mode runs the eager steps until compiled
        if self.decode == "eager":
            tokens = generate(pair.predictor, prompts, settings.horizon, settings.paths, pair.context,
                              settings.sampling, generator, progress)
        else:
            tokens = generate_static(pair.predictor, prompts, settings.horizon, settings.paths, pair.context,
                                     settings.sampling, generator, progress,
                                     StaticDecoding(self.decode, self._decoders, report=decode))
            decode = {"decode_mode": self.decode, **decode}
        decoded, rebuilt = self._decode(tokens, settings.horizon, settings.anchor)
        if settings.anchor:  # reconstructions the decode did not give (a window that slid past the history's start)
            missing = [i for i, last in enumerate(rebuilt) if last is None]
            for i, last in zip(missing, self._reconstruct_last_bars([codes[i] for i in missing])):
                rebuilt[i] = last
        results = []
        for p, norm, last in zip(prepared, decoded, rebuilt):
            paths = denormalize(norm, p.mu, p.sigma)
            mean = denormalize(norm.mean(axis=0), p.mu, p.sigma)
            anchor = {"applied": False}
            if last is not None:
                offset = anchor_offset(p.history["close"].iloc[-1], denormalize(last, p.mu, p.sigma)[CLOSE])
                if offset is not None:
                    paths, mean = shift_prices(paths, -offset), shift_prices(mean, -offset)
                    anchor = {"applied": True, "offset_log": round(offset, 6),
                              "reconstructed_last_close": float(np.exp(offset) * p.history["close"].iloc[-1])}
                else:
                    anchor["reason"] = "the last close or its reconstruction is not a positive price"
            provenance = {
                **pair.provenance(),
                "device": str(device),
                **decode,
                "events": events is not None,
                "random_stream": "per series" if per_series_stream else "shared by the batch",
                "anchor": anchor,
            }
            results.append(Forecast(p.future, paths.astype(np.float32), mean.astype(np.float32), p.history,
                                    settings, provenance))
        return results

    def _reconstruct_last_bars(self, codes: list[tuple[torch.Tensor, torch.Tensor]]) -> list[np.ndarray]:
        """The tokenizer's reconstruction (normalised, [6]) of every history's last bar: the decode of the
        history tokens the model read (the last ``context``), causal, so what every path continues from."""
        out = [None] * len(codes)
        window = self.pair.context
        for indices in _by_length([s1.shape[0] for s1, _ in codes]):
            s1 = torch.stack([codes[i][0][-window:] for i in indices])
            s2 = torch.stack([codes[i][1][-window:] for i in indices])
            last = self.pair.tokenizer.decode(s1, s2)[:, -1].float().cpu().numpy()
            for j, i in enumerate(indices):
                out[i] = last[j]
        return out

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

    def _encode(self, prepared: list[_Prepared]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Token ids (s1, s2) [N] of every history; histories of equal length are encoded as one batch."""
        codes = [None] * len(prepared)
        for indices in _by_length([len(p.normalized) for p in prepared]):
            x = torch.from_numpy(np.stack([prepared[i].normalized for i in indices])).to(self.pair.device)
            s1, s2 = self.pair.tokenizer.encode(x)
            for j, i in enumerate(indices):
                codes[i] = (s1[j], s2[j])
        return codes

    def _decode(self, tokens: list[tuple[torch.Tensor, torch.Tensor]], horizon: int,
                last_history_bars: bool = False) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
        """Normalised bars [paths, horizon, 6] of every series. Each path's last ``context`` tokens are
        decoded as one causal sequence (as upstream) and the horizon kept. A horizon longer than the
        context is decoded in windows of at most ``context`` tokens, as generation slid: the earlier
        bars from the ``context`` tokens that end where the next window starts. A window's history part
        is the same for every path of a series, so it is decoded once; series of equal length share
        tokenizer passes.

        Also returns, with ``last_history_bars``, each series' reconstructed last history bar where the
        first window holds the whole history (what ``_reconstruct_last_bars`` decodes, bit for bit: the
        same tokens through the same causal pass), else None."""
        out, last = [None] * len(tokens), [None] * len(tokens)
        context = self.pair.context
        for indices in _by_length([s1.shape[1] for s1, _ in tokens]):
            s1 = torch.stack([tokens[i][0] for i in indices])  # [series, paths, length]
            s2 = torch.stack([tokens[i][1] for i in indices])
            first, end, windows = s1.shape[-1] - horizon, s1.shape[-1], []  # first: the first generated token
            while end > first:  # tokens [start, end) decode bars [max(start, first), end)
                windows.insert(0, (max(0, end - context), end))
                end = windows[0][0]
            whole_history = last_history_bars and windows[0][0] == 0 and first > 0
            parts = [self._decode_window(s1, s2, start, max(start, first), stop, whole_history and k == 0)
                     for k, (start, stop) in enumerate(windows)]
            bars = np.concatenate([p[0] for p in parts], axis=2)
            for j, i in enumerate(indices):
                out[i] = bars[j]
                last[i] = None if parts[0][1] is None else parts[0][1][j]
        return out, last

    def _decode_window(self, s1: torch.Tensor, s2: torch.Tensor, start: int, split: int, end: int,
                       prefix_last: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """Bars [series, paths, end - split, 6] of tokens [split, end), decoded after the shared prefix
        [start, split) (history tokens, the same for every path); and with ``prefix_last`` the prefix's
        last bar, [series, 6] (else None)."""
        series, paths = s1.shape[:2]
        per_pass = max(1, DECODE_TOKENS // (paths * (end - split)))  # series per tokenizer pass
        parts, lasts = [], []
        for a in range(0, series, per_pass):
            b1, b2 = s1[a:a + per_pass, :, start:end], s2[a:a + per_pass, :, start:end]
            shared, rows = split - start, b1.shape[0] * paths
            decoded = self.pair.tokenizer.decode_continuations(
                b1[:, 0, :shared], b2[:, 0, :shared],
                b1[..., shared:].reshape(rows, -1), b2[..., shared:].reshape(rows, -1), return_prefix_last=prefix_last)
            bars, last = decoded if prefix_last else (decoded, None)
            parts.append(bars.float().cpu().numpy().reshape(b1.shape[0], paths, end - split, -1))
            lasts.append(None if last is None else last.float().cpu().numpy())
        return np.concatenate(parts), (np.concatenate(lasts) if prefix_last else None)


def anchor_offset(last_close: float, reconstructed_close: float) -> float | None:
    """log(reconstructed / actual) of the last close: how far the tokenizer moved the bar every path
    starts from. Kronos continues the tokenised history, so its whole fan sits at that reconstruction
    (the first step jumps by the error); None where either price is not positive (no log)."""
    if not (last_close > 0 and reconstructed_close > 0):
        return None
    return float(np.log(reconstructed_close) - np.log(last_close))


def shift_prices(bars: np.ndarray, log_shift: float) -> np.ndarray:
    """Open, high, low and close (the first four of BAR_COLUMNS) times exp(``log_shift``); volume and
    amount as they are. One factor for the four keeps every candle coherent."""
    out = np.array(bars, dtype=np.float64)
    out[..., :4] *= np.exp(log_shift)
    return out


def _by_length(lengths: list[int]) -> list[list[int]]:
    """Indices grouped by equal length, in order of first appearance."""
    groups: dict[int, list[int]] = {}
    for i, n in enumerate(lengths):
        groups.setdefault(n, []).append(i)
    return list(groups.values())
