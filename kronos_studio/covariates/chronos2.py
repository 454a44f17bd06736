"""Chronos-2 conditioned on other series: the studio's Chronos-2 member with covariates, through the package's own
inputs (``Chronos2Pipeline.predict``'s dicts: ``past_covariates`` for what is known up to the cut-off,
``future_covariates`` for what is known ahead).

Each history a forecast or a walk-forward cut-off hands over is aligned afresh (``alignment.align``: the covariate
bars completed by each of its bars' closes, nothing after its last close), so a cut-off never reads a covariate bar
that completes after it, whatever the covariate's file holds. A covariate enters as its log close on the target's
bars (NaN where masked: missing to Chronos-2), named ``with:<symbol>``; a scheduled event kind as its 0/1 flag over
the history and the forecast's own bars (``events.event_matrix``: a release in the 24 hours before a bar's end),
named ``event:<kind>``. The target's own open/high/low/volume stay what the checkpoint says.

Several targets can be forecast as one group (``joint_quantiles``): Chronos-2's multivariate target, each series'
log close on the first one's bars, so group attention shares what each knows.

A checkpoint trained on single series (the bundled ``chronos2-small`` is) has never learnt to read a covariate:
``docs/covariates.md`` measures what each model gains.
"""
from __future__ import annotations

import dataclasses
import tempfile
import warnings
from collections.abc import Sequence

from data_sources.intervals import parse_interval
from data_sources.schema import Bars
from kronos.errors import Fix, InputError
from kronos.lazy import np, pd, torch
from kronos.settings import ForecastSettings
from kronos_studio.ensemble.chronos2 import Chronos2Member
from kronos_studio.events import CHANNEL_NAMES, EventCalendar, bundled_calendar, event_matrix

from .alignment import Alignment, align, covariate_name
from .options import load_all

SERIES_PREFIX = "with:"  # a covariate series' name among Chronos-2's covariates
EVENT_PREFIX = "event:"  # a scheduled event kind's flag among them


def _frame_bars(frame: pd.DataFrame, like: Bars) -> Bars:
    """A history frame (timestamp + bar columns) as Bars with the target's metadata, for the alignment."""
    frame = frame.reset_index(drop=True)
    if "amount" not in frame:
        frame = frame.assign(amount=np.nan)
    return Bars.from_frame(frame[["timestamp", "open", "high", "low", "close", "volume", "amount"]],
                           source=like.source, symbol=like.symbol, interval=like.interval, calendar=like.calendar,
                           venue=like.venue)


class CovariateChronos2(Chronos2Member):
    """A Chronos-2 member that reads ``covariates`` (Bars of other series) and ``known_future`` event kinds besides
    the target. ``target``: the target's bars (their interval and calendar say when each bar closes; a covariate
    equal to them is refused). ``cross_learning``: a batch of histories (a walk-forward's cut-offs) forecast as
    one group, as the package's own option does. Other settings as ``Chronos2Member``."""

    def __init__(self, pipeline, covariates: Sequence[Bars] = (), *, target: Bars, known_future: Sequence[str] = (),
                 event_calendar: EventCalendar | None = None, cross_learning: bool = False, **settings):
        super().__init__(pipeline, **settings)
        self.target = target.replace(frame=target.frame.iloc[:0])  # its metadata, not its bars
        self.covariate_bars = tuple(covariates)
        self.known_future = tuple(known_future)
        if self.known_future and event_calendar is None:
            event_calendar = bundled_calendar()
        self.event_calendar = event_calendar
        self.cross_learning = bool(cross_learning)
        align(target, self.covariate_bars)  # the refusals, before any forecast
        names = [covariate_name(c) for c in self.covariate_bars] + list(self.known_future)
        if names:
            self.name = f"{self.name} given {', '.join(names)}"

    # --- what it read ------------------------------------------------------------------------------
    def covariates_read(self) -> list[dict]:
        """Each covariate series: its name, interval and the hash of its bars (``Bars.content_hash``)."""
        return [{"name": covariate_name(c), "interval": c.interval, "content_hash": c.content_hash()}
                for c in self.covariate_bars]

    def identity(self) -> dict:
        """The checkpoint's identity and the covariates it reads: two forecasts that differ only in their
        covariates are two models to a cache, the ledger and the meta-learner."""
        return {**super().identity(), "covariates": self.covariates_read(), "known_future": list(self.known_future),
                "cross_learning": self.cross_learning}

    def describe(self) -> dict:
        return {**super().describe(), "covariates": self.covariates_read(), "known_future": list(self.known_future),
                "cross_learning": self.cross_learning}

    def alignment(self, history: pd.DataFrame) -> Alignment | None:
        """The covariates as a forecast of ``history`` reads them (its last ``context_length`` bars); None
        without covariate series."""
        if not self.covariate_bars:
            return None
        return align(_frame_bars(history.iloc[-self.context_length:], self.target), self.covariate_bars)

    def forecast(self, history, future, settings: ForecastSettings, paths: np.ndarray):
        """The forecast with what its own alignment said (resampled, dropped after the cut-off, filled, masked)
        in its provenance: computed per history, nothing kept between forecasts (a member may serve several
        threads)."""
        made = super().forecast(history, future, settings, paths)
        aligned = self.alignment(history)
        made.provenance["covariate_notes"] = [n.worded() for n in aligned.notices] if aligned else []
        return made

    # --- inputs ------------------------------------------------------------------------------------
    def covariate_inputs(self, history: pd.DataFrame, future: pd.DatetimeIndex | None = None) -> dict:
        """The package input for one history with its covariates: the target's own (``Chronos2Member.inputs``),
        each covariate's log close aligned as of the history's closes, and the event flags over the history and
        ``future`` (needed when event kinds are read)."""
        out = self.inputs(history)
        tail = history.iloc[-self.context_length:]
        past = dict(out.get("past_covariates", {}))
        aligned = self.alignment(history)
        if aligned is not None:
            past.update({f"{SERIES_PREFIX}{name}": values for name, values in aligned.past_covariates().items()})
        if self.known_future:
            if future is None or not len(future):
                raise InputError("scheduled events are read over the forecast's own bars, and none were given",
                                 {"known_future": list(self.known_future)},
                                 Fix("pass the future bar times, or leave {setting} empty", "known_future"))
            times = pd.DatetimeIndex(tail["timestamp"]).append(pd.DatetimeIndex(future))
            flags = event_matrix(times, self.event_calendar, interval=parse_interval(self.target.interval))
            future_cov = {}
            for kind in self.known_future:
                column = flags[:, CHANNEL_NAMES.index(f"flag_{kind}")].astype(np.float64)
                past[f"{EVENT_PREFIX}{kind}"] = column[:len(tail)]
                future_cov[f"{EVENT_PREFIX}{kind}"] = column[len(tail):]
            out["future_covariates"] = future_cov
        if past:
            out["past_covariates"] = past
        return out

    def quantiles_batch(self, histories: Sequence[pd.DataFrame], horizon: int,
                        futures: Sequence[pd.DatetimeIndex] | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        if horizon < 1:
            raise ValueError("horizon must be at least 1")
        futures = list(futures) if futures is not None else [None] * len(histories)
        inputs = []
        for h, f in zip(histories, futures):
            one = self.covariate_inputs(h, f)
            if "future_covariates" in one:  # the package takes exactly the horizon's values
                one["future_covariates"] = {k: v[:horizon] for k, v in one["future_covariates"].items()}
            inputs.append(one)
        levels = [float(q) for q in self.pipeline.quantiles]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="We recommend keeping prediction length")
            q, _ = self.pipeline.predict_quantiles(inputs, prediction_length=horizon, quantile_levels=levels,
                                                   cross_learning=self.cross_learning)
        return np.asarray(levels), [np.exp(x[0].numpy().astype(np.float64)) for x in q]

    def draw(self, history: pd.DataFrame, future, settings: ForecastSettings) -> np.ndarray:
        levels, (q,) = self.quantiles_batch([history], settings.horizon, [future])
        return self.paths_from_quantiles(history, levels, q, settings)

    def sample_batch(self, histories, futures, settings: ForecastSettings, per_series_stream: bool = True):
        levels, qs = self.quantiles_batch(histories, settings.horizon, futures)
        out = []
        for i, (h, f, q) in enumerate(zip(histories, futures, qs)):
            own = settings if per_series_stream else dataclasses.replace(settings, seed=settings.seed + i)
            out.append(self.forecast(h, f, own, self.paths_from_quantiles(h, levels, q, own)))
        return out


def joint_quantiles(member: Chronos2Member, targets: Sequence[Bars], horizon: int) -> dict[str, np.ndarray]:
    """Several targets forecast as one group (Chronos-2's multivariate target: each series' log close on the
    first target's bars, aligned as of its closes, its last ``context_length`` bars): series name -> close
    quantiles [horizon, levels] in price units, at ``member.levels``, for the first target's next bars."""
    targets = list(targets)
    if len(targets) < 2:
        raise InputError("a joint forecast needs at least two targets", {"targets": len(targets)},
                         Fix("name two or more series to forecast together"))
    first = targets[0].tail(member.context_length)
    alignment = align(first, targets[1:])
    rows = [np.log(first.frame["close"].to_numpy(np.float64))] + [c.log_close for c in alignment.covariates]
    names = [covariate_name(first)] + [c.name for c in alignment.covariates]
    levels = [float(q) for q in member.pipeline.quantiles]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="We recommend keeping prediction length")
        q, _ = member.pipeline.predict_quantiles([{"target": np.stack(rows)}], prediction_length=horizon,
                                                 quantile_levels=levels)
    out = np.exp(q[0].numpy().astype(np.float64))  # [series, horizon, levels]
    return dict(zip(names, out))


def training_inputs(pairs: Sequence[tuple[Bars, Sequence[Bars]]]) -> list[dict]:
    """``Chronos2Pipeline.fit`` inputs for (target, covariates) pairs, built as forecasts read them: the target's
    log close and each covariate's log close aligned as of the target's closes (``with:<symbol>``)."""
    out = []
    for target, covariates in pairs:
        alignment = align(target, covariates)
        out.append({"target": np.log(target.frame["close"].to_numpy(np.float64)),
                    "past_covariates": {f"{SERIES_PREFIX}{n}": v for n, v in alignment.past_covariates().items()}})
    return out


def fit_with_covariates(pipeline, pairs: Sequence[tuple[Bars, Sequence[Bars]]], *, prediction_length: int,
                        num_steps: int, context_length: int | None = None, batch_size: int = 32,
                        learning_rate: float = 1e-3, output_dir=None, seed: int = 0):
    """A copy of ``pipeline`` fine-tuned (``Chronos2Pipeline.fit``, full) to read the covariates of ``pairs``:
    a checkpoint trained on single series (the bundled one) has never learnt to use another series. Returns the
    new pipeline; nothing is written but the package's own checkpoint under ``output_dir`` (a temporary folder
    when None)."""
    torch.manual_seed(seed)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pipeline.fit(training_inputs(pairs), prediction_length=prediction_length, num_steps=num_steps,
                            context_length=context_length, batch_size=batch_size, learning_rate=learning_rate,
                            output_dir=output_dir or tmp, remove_printer_callback=True, report_to=[],
                            save_strategy="no", logging_strategy="no", disable_tqdm=True, seed=seed)


def from_options(pipeline, target: Bars, options, **settings) -> Chronos2Member:
    """The Chronos-2 member a forecast of ``target`` with ``options`` (``CovariateOptions``) uses: the plain member
    when they name nothing, else a ``CovariateChronos2`` reading the covariates' bars (loaded at the target's
    interval) and the scheduled events named."""
    if not options:
        return Chronos2Member(pipeline, **settings)
    return CovariateChronos2(pipeline, load_all(options, target.interval), target=target,
                             known_future=options.known_future, **settings)
