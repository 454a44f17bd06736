"""Run a batch: load the watchlist's bars, gate them, forecast what is not done yet, write the results.

    result = run_batch(read_watchlist("watchlist/"), BatchSettings(ForecastSettings(horizon=10)),
                       BatchRun(out="results.parquet"))

One row per series (``status`` "ok" or the one-line reason it has no forecast), in watchlist order.
Rows are written as chunks finish, so a stopped batch keeps its work; a rerun into the same file
skips every series whose row is "ok" for the same settings, the same model and the same bars.
Forecasts are independent of batching (each series draws from its own stream seeded with ``seed``),
so the local and the Ray engine, a resumed run and ``kronos forecast`` agree series by series.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from data_sources.calendars import validate_calendar
from data_sources.intervals import span_text
from data_sources.quality import check_fix_names
from data_sources.storage import atomic_write
from kronos.errors import Fix, InputError, Notice, UserError
from kronos.lazy import pd
from kronos_studio.catalog.champion import CHAMPION
from kronos_studio.catalog.kinds import kind_of
from kronos_studio.risk.measures import MIN_TAIL_PATHS

from .conditioned import ConditionedChunkForecaster
from .forecaster import CHUNK_SERIES, BatchSettings, ChunkForecaster, SeriesJob, failure_row
from .summary import risk_columns, touch_column
from .watchlist import Entry, load_entries

ENGINES = ("local", "ray")
WRITE_EVERY_S = 5.0  # how often partial results reach the output file while a batch runs

# (series done, series to do, series per second so far)
BatchProgress = Callable[[int, int, float], None]


@dataclass
class BatchResult:
    rows: pd.DataFrame  # one per watchlist entry, in watchlist order
    steps: pd.DataFrame | None  # per-step quantiles of the "ok" rows (long: series, step, ...)
    forecast: int  # series forecast by this run (those it refused on their row are counted in ``failed``)
    kept: int  # series skipped: already done with the same inputs and settings
    failed: int
    elapsed_s: float
    forecast_s: float  # the forecasting part alone (model loading and data loading excluded)

    @property
    def series_per_minute(self) -> float:
        return 60.0 * self.forecast / self.forecast_s if self.forecast_s > 0 else float("nan")


def settings_key(settings: BatchSettings, model: dict, covariates=None) -> str:
    """What a finished row must match to be kept on a rerun: the settings and the model's identity, and for a
    conditioned batch the covariates' content hashes (``covariates.conditioning.Conditioning.key``) and the
    Chronos-2 checkpoint's revision (another covariate's bars, or other weights: computed again)."""
    ident = {k: model.get(k) for k in ("model", "predictor", "predictor_revision", "tokenizer", "tokenizer_revision")}
    given = {"settings": asdict(settings), "model": ident}
    if covariates is not None:  # an unconditioned batch keeps the key it had
        given.update(covariates=covariates.key(), revision=model.get("revision"))
    text = json.dumps(given, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class BatchRun:
    """What a batch decides beyond the forecast's settings: the model, how the bars are read, where the
    results go and which engine forecasts."""

    model: str | None = None  # a model reference (``catalog.resolve``); None: the bundled default
    out: object = None  # the rows' Parquet file (None: not written)
    steps_out: object = None  # the per-step quantiles' Parquet file (None: not written)
    engine: str = "local"  # or "ray"
    ray_address: str | None = None
    workers: int | None = None  # Ray actors
    chunk_series: int = CHUNK_SERIES  # series forecast in one batched run
    device: object = None
    cache: object = None  # the bar cache's folder (None: the default)
    fixes: tuple[str, ...] = ()  # the data-quality gate's fixes accepted for every series
    calendar: str | None = None  # the bar files' trading calendar (None: inferred from each file's bar times)
    workspace: str | None = None  # whose registry ``champion`` reads each series' champion from (None: the default)
    ledger_url: str | None = None  # the ledger holding that registry (None: ``ledger_url()``, as kronos forecast)
    # the process's warm ``catalog.registry.ModelRegistry`` the local engine forecasts with (None: the batch loads
    # its model itself); Ray actors load their own
    registry: object = None
    # the covariates every series is conditioned on, read once (``covariates.conditioning.Conditioning``; None:
    # none): the bundled Chronos-2 reads them, each series aligning them as of its own bars' closes
    covariates: object = None
    # the replay whose registry ``champion`` reads (``kronos watch --replay-from``); "" (the default): the live one
    replay: str = ""
    # called with (``SeriesJob``, forecast) as each series' forecast is done, in the driver (a watch records them
    # in the ledger as they come: a batch stopped half-way has recorded what it finished); None: not handed on
    each_forecast: Callable | None = None


def one_model_for_every_series(model) -> None:
    """Refuse a model a batch cannot share between its series: the ensemble weighs its members for one series'
    interval and asset class (``catalog.resolve`` builds it from that series' bars)."""
    if kind_of(model).mixes:
        raise InputError(f"the {model} is weighed for one series' interval and asset class, so a batch of several "
                         "series cannot share it", {"model": str(model)},
                         Fix("choose one model for every series with {setting} (a Kronos model, Chronos-2 or a "
                             "statistical model), or forecast each series with the ensemble on its own", "model"))


def run_batch(entries: list[Entry], settings: BatchSettings, run: BatchRun = BatchRun(),
              progress: BatchProgress | None = None, ready: Iterable | None = None) -> BatchResult:
    """Forecast every entry not already done in ``run.out`` (and ``run.steps_out``) with ``settings``, and
    write both. ``ready``: the entries' bars already read and gated (``watchlist.Loaded``, in watchlist order: a
    watch's tick, whose replay cuts each series' bars at its clock), instead of reading them here."""
    if run.engine not in ENGINES:
        raise InputError(f"unknown engine '{run.engine}'", {"engine": run.engine},
                         Fix(f"use one of {list(ENGINES)} ({{setting}})", "engine"))
    if not entries:
        raise InputError("the watchlist has no series", fix=Fix("add series to the watchlist"))
    one_model_for_every_series(run.model)
    if run.engine == "ray" and kind_of(run.model).per_series:
        raise InputError(f"'{CHAMPION}' is resolved per series from this machine's registry (its ledger and adapter "
                         "files), which Ray workers on other nodes do not share", {"model": CHAMPION, "engine": "ray"},
                         Fix("run the batch in this process with {setting}", "engine", "local"))
    if run.engine == "ray" and run.covariates is not None:
        raise InputError("a batch of the bundled Chronos-2 (conditioned on covariates read here, or alone) runs in "
                         "this process",
                         {"engine": "ray", "covariates": list(run.covariates.options.covariates)},
                         Fix("run it with {setting}", "engine", "local"))
    if run.each_forecast is not None and run.covariates is not None:
        raise ValueError("a batch conditioned on covariates does not hand its forecasts on (each_forecast)")
    calendar = validate_calendar(run.calendar)
    fixes = check_fix_names(run.fixes)
    out, steps_out = run.out, run.steps_out
    started = time.perf_counter()
    local = _local_forecaster(run, settings)
    key = settings_key(settings, local.provenance, run.covariates)
    previous_rows, previous_steps = read_previous(out, steps_out, key)
    rows: dict[str, dict] = {}
    steps: dict[str, pd.DataFrame] = {}
    todo: list[SeriesJob] = []
    history = local.forecast_settings.lookback
    jobs: dict[str, SeriesJob] = {}
    for loaded in (load_entries(entries, history, run.cache, fixes, calendar) if ready is None else ready):
        entry = loaded.entry
        if loaded.error is not None:
            rows[entry.series] = failure_row(entry.series, entry.origin, loaded.error)
            continue
        job = jobs[entry.series] = SeriesJob(entry.series, entry.origin, loaded.bars, loaded.data_sha256,
                                             loaded.warnings)
        done = previous_rows.get(entry.series)
        same_bars = done is not None and done.get("data_sha256") == job.data_sha256 and (
            _text(done.get("calendar")) == loaded.bars.calendar) and (  # the calendar decides the future bar times
            _id(done.get("adapter_id")) == _served_by(local, loaded.bars))  # a promote or rollback since: again
        if same_bars and (steps_out is None or entry.series in previous_steps):
            rows[entry.series] = {**done, "settings_key": key}
            if entry.series in previous_steps:
                steps[entry.series] = previous_steps[entry.series]
            continue
        todo.append(job)
    kept = sum(1 for r in rows.values() if r.get("status") == "ok")

    order = [e.series for e in entries]
    writer = _Writer(out, steps_out, order)
    chunks = [todo[i:i + run.chunk_series] for i in range(0, len(todo), run.chunk_series)]
    done_count, forecast_started = 0, time.perf_counter()
    try:
        with _workers(run, local, settings, bool(chunks)) as map_chunks:
            forecast_started = time.perf_counter()  # workers are up: from here on it is forecasting
            for chunk_results in map_chunks(chunks):
                for r in chunk_results:
                    rows[r.row["series"]] = {**r.row, "settings_key": key}
                    if r.steps is not None:
                        steps[r.row["series"]] = r.steps
                    if r.forecast is not None and run.each_forecast is not None:
                        run.each_forecast(jobs[r.row["series"]], r.forecast)
                done_count += len(chunk_results)
                if progress is not None:
                    progress(done_count, len(todo), done_count / max(time.perf_counter() - forecast_started, 1e-9))
                writer.maybe_write(rows, steps)
    finally:  # a stopped batch keeps what it finished
        local.close()
        forecast_s = time.perf_counter() - forecast_started
        frame, step_frame = writer.write(rows, steps)
    ok = int((frame["status"] == "ok").sum())  # the rows kept from before and the ones this run forecast
    return BatchResult(frame, step_frame, ok - kept, kept, len(frame) - ok, time.perf_counter() - started, forecast_s)


def _local_forecaster(run: BatchRun, settings: BatchSettings) -> ChunkForecaster:
    """The driver's forecaster: the run's model, or Chronos-2 conditioned on the run's covariates."""
    if run.covariates is None:
        local = ChunkForecaster(run.model, settings, device=run.device, workspace=run.workspace,
                                ledger_url=run.ledger_url, registry=run.registry)
        local.replay = run.replay
        return local

    return ConditionedChunkForecaster(run.model, settings, run.covariates, workspace=run.workspace,
                                      registry=run.registry)


def _id(value) -> int | None:
    """An id cell as read back from Parquet (a missing one may come back as NaN)."""
    return None if value is None or (isinstance(value, float) and value != value) else int(value)


def _served_by(local: ChunkForecaster, bars) -> int | None:
    """The adapter that serves ``bars``' series now (None: the base model or a model not chosen per series;
    a series whose champion cannot be read is forecast again, and its row says why)."""
    try:
        entry = local.champion_entry(bars)
    except (UserError, ValueError, RuntimeError):
        return -1
    return None if entry is None else entry.id


def _text(value) -> str | None:
    """A text cell as read back from Parquet (a missing one may come back as NaN)."""
    return None if value is None or (isinstance(value, float) and value != value) else str(value)


@contextmanager
def _workers(run: BatchRun, local: ChunkForecaster, settings, needed: bool):
    """``map_chunks`` of the chosen engine: the driver's own forecaster, or a pool of Ray actors
    (not started when nothing is left to forecast)."""
    from .ray_engine import ray_workers  # read when called: a test patches it in ray_engine

    method = "forecast" if run.each_forecast is None else "forecast_kept"  # a watch records the forecasts themselves
    if run.engine == "local" or not needed:
        yield lambda chunks: (getattr(local, method)(chunk) for chunk in chunks)
        return

    with ray_workers(run.model, settings, address=run.ray_address, workers=run.workers, device=run.device,
                     expected_model=local.provenance) as map_chunks:
        yield lambda chunks: map_chunks(chunks, method)


def read_previous(out, steps_out, key: str) -> tuple[dict[str, dict], dict[str, pd.DataFrame]]:
    """Rows of an earlier run into the same files that are "ok" with the same settings key, and their
    per-step quantiles. Unreadable files count as no earlier run."""
    rows: dict[str, dict] = {}
    if out is not None and Path(out).is_file():
        try:
            frame = pd.read_parquet(out)
        except Exception:
            frame = None
        if frame is not None and {"series", "status", "settings_key"} <= set(frame.columns):
            done = frame[(frame["status"] == "ok") & (frame["settings_key"] == key)]
            rows = {r["series"]: r for r in done.to_dict("records")}
    steps: dict[str, pd.DataFrame] = {}
    if rows and steps_out is not None and Path(steps_out).is_file():
        try:
            table = pd.read_parquet(steps_out)
            steps = {name: part.reset_index(drop=True) for name, part in table.groupby("series", sort=False)
                     if name in rows}
        except Exception:
            steps = {}
    return rows, steps


class _Writer:
    """Writes rows in watchlist order (atomically: a reader never sees half a file), at most every
    WRITE_EVERY_S while running and once at the end."""

    def __init__(self, out, steps_out, order: list[str]):
        self.out, self.steps_out, self.order = out, steps_out, order
        self.last = time.perf_counter()

    def maybe_write(self, rows, steps) -> None:
        if time.perf_counter() - self.last >= WRITE_EVERY_S:
            self.write(rows, steps)

    def write(self, rows: dict[str, dict], steps: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        frame = results_frame([rows[s] for s in self.order if s in rows])
        step_frame = pd.concat([steps[s] for s in self.order if s in steps], ignore_index=True) if steps else None
        if self.out is not None:
            atomic_write(self.out, lambda tmp: frame.to_parquet(tmp, index=False))
        if self.steps_out is not None and step_frame is not None:
            atomic_write(self.steps_out, lambda tmp: step_frame.to_parquet(tmp, index=False))
        self.last = time.perf_counter()
        return frame, step_frame


LEAD_COLUMNS = ("series", "status", "p_up", "expected_return", "close_p10", "close_p50", "close_p90", "band_width",
                "expected_max_drawdown")


def risk_notices(frame: pd.DataFrame) -> list[Notice]:
    """One flag for the rows whose ES rests on too few paths beyond the VaR (``risk_paths_needed``, each row's
    own words in ``risk_notes``): how many there are and the path count that gives every one of them enough."""
    if "risk_paths_needed" not in frame.columns:
        return []
    needed = frame["risk_paths_needed"].dropna()
    if needed.empty:
        return []
    need, ok = int(needed.max()), int((frame["status"] == "ok").sum())
    return [Notice(f"{len(needed)} of {ok} forecast rows have an ES read from fewer than {MIN_TAIL_PATHS} paths beyond "
                   "the VaR (their risk_notes say which level): a rough reading", (Fix("sample at least {setting}",
                                                                                        "paths", need),),
                   values={"rows": len(needed), "needed": need})]


def interval_notices(frame: pd.DataFrame) -> list[Notice]:
    """One flag when the forecast rows are of more than one bar interval: each row's numbers (VaR, ES, volatility,
    P(up), the band) are over its own horizon of bars, so an hourly row's 5-bar VaR (5 hours) stands beside a
    daily row's (5 days) and the two do not compare."""
    if "interval" not in frame.columns:
        return []
    ok = frame[frame["status"] == "ok"]
    by = {str(k): list(g["series"]) for k, g in ok.groupby("interval", sort=False)}
    if len(by) < 2:
        return []
    horizon = int(ok["horizon"].iloc[0]) if "horizon" in ok.columns else None  # one run: one horizon in bars
    listed = "; ".join(f"{k}: {', '.join(v[:3])}{f' and {len(v) - 3} more' if len(v) > 3 else ''}"
                       for k, v in by.items())
    spans = f" ({' against '.join(span_text(k, horizon) for k in by)})" if horizon else ""
    return [Notice(f"the watchlist mixes bar intervals ({listed}): each row's VaR, ES, volatility and P(up) are over its "
                   f"own horizon of {horizon or 'the same number of'} bars{spans}, so rows of different intervals do "
                   "not compare", (Fix("screen one interval per watchlist (split it, or resample the files)"),),
                   values={"intervals": {k: len(v) for k, v in by.items()}})]


def results_frame(rows: Iterable[dict]) -> pd.DataFrame:
    """Rows as a table with the screening columns first, the touch columns next, the risk columns, provenance
    after."""
    frame = pd.DataFrame(list(rows))
    for c in LEAD_COLUMNS:
        if c not in frame.columns:
            frame[c] = pd.Series(dtype="float64" if c not in ("series", "status") else "object")
    if "adapter_id" in frame.columns:  # a champion's id, or none where the base model served: ids, not floats
        frame["adapter_id"] = frame["adapter_id"].astype("Int64")
    touch = [c for c in frame.columns if c.startswith("p_touch_")]
    risk = risk_columns(frame.columns)
    for c in risk:  # path counts: whole numbers, none on a row without a forecast (or without the flag); an ES's
        if c == "risk_paths_needed":  # tail paths are paths x (1 - level), 0.3 for a 99% ES of 30 paths
            frame[c] = pd.to_numeric(frame[c]).astype("Int64")
        elif c.endswith("_tail_paths"):
            frame[c] = pd.to_numeric(frame[c]).astype("float64")
    rest = [c for c in frame.columns if c not in LEAD_COLUMNS and c not in touch and c not in risk]
    return frame[list(LEAD_COLUMNS) + touch + risk + rest]


__all__ = ["BatchResult", "BatchSettings", "ENGINES", "run_batch", "read_previous", "results_frame", "risk_notices",
           "interval_notices", "settings_key", "touch_column"]
