"""The screen (``Desk.screen``): every series of a watchlist forecast with one model, one row each (P(up), the
close quantiles, touch probabilities, VaR/ES and volatility columns, provenance), as ``kronos batch``, ``POST
/v1/batch``, the MCP tool ``screen`` and the app's Screener ask for it. One request value in (``ScreenRequest``: the
watchlist's entries, the ``BatchSettings``, the model, how every series is read and where the run goes), one result
out (``Screened``: the rows, the counts and the notices every face shows); the batch engine
(``kronos_studio.batch.engine.run_batch``) does the work, on the desk's warm registry."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields

from data_sources.requests import BarsRequest
from kronos.errors import Fix, InputError, Notice
from kronos.knobs import Bounds, check_bounds, knob
from kronos.lazy import np, pd
from kronos_studio.batch.engine import ENGINES, BatchRun, interval_notices, risk_notices, run_batch
from kronos_studio.batch.forecaster import CHUNK_SERIES, BatchSettings
from kronos_studio.batch.summary import utc
from kronos_studio.batch.watchlist import Entry, load_entries
from kronos_studio.covariates.options import CovariateOptions
from kronos_studio.risk.registry import ScreenColumn, screen_columns

from .covariates import conditioned_note, read_for_batch
from .notices import paths_notices


def bars_knob(name: str):
    """A field of a request that reads many series as ``BarsRequest`` reads one (its calendar, the gate's fixes):
    that field's default and ``Knob``, their one home."""
    found = next(f for f in fields(BarsRequest) if f.name == name)
    return field(default=found.default, metadata=found.metadata)


@dataclass(frozen=True)
class Engine:
    """Where a batch's forecasts run: this process (``local``) or a pool of Ray actors. The command line's choice;
    the service and the app forecast in their own process, on their warm models."""

    engine: str = knob("local", Bounds(choices=ENGINES), label="Engine",
                       help="local: this process (default); ray: actors on a Ray cluster")
    ray_address: str | None = knob(None, label="Ray address", help="Ray cluster to join (e.g. ray://head:10001 or "
                                                                   "auto); default: a local Ray instance")
    workers: int | None = knob(None, Bounds(ge=1), label="Ray actors", help="Ray actors (default: one per CPU)")

    def __post_init__(self):
        check_bounds(self)
        if self.engine == "local" and (self.ray_address or self.workers):
            given = {k: v for k, v in (("ray_address", self.ray_address), ("workers", self.workers)) if v}
            raise InputError(f"{' and '.join(given)} spread the batch over a Ray cluster, which the local engine "
                             "does not use", {"engine": self.engine, **given},
                             (Fix("use {setting}", "engine", "ray"), Fix("or leave them out")))


# How every series is read, offered by every face (the rest of ``ScreenRequest``'s knobs are the command line's: a
# service writes its rows to its job's folder and answers them, the app keeps them in the session)
READING = ("fixes", "calendar")


@dataclass(frozen=True)
class ScreenRequest:
    """A screen: the watchlist's ``entries`` (``kronos_studio.batch.watchlist.Entry``: files or a source's symbols),
    what each series is forecast with (``settings``: the forecast's, the touch levels, the risk columns), the model
    (a catalog reference; None: the bundled default), the covariates every series is conditioned on (None: none),
    where the forecasts run (``engine``) and the device a model the batch loads itself goes to (Ray actors). Each
    option a person gives carries its ``Knob``."""

    entries: tuple[Entry, ...]
    settings: BatchSettings
    model: str | None = None
    fixes: tuple[str, ...] = bars_knob("fixes")
    calendar: str | None = bars_knob("calendar")
    covariates: CovariateOptions | None = None
    engine: Engine = Engine()
    chunk: int = knob(CHUNK_SERIES, Bounds(ge=1), label="Series per batched run", more=True,
                      help=f"series forecast in one batched run (past {CHUNK_SERIES} a bigger batch buys little and "
                           "holds more memory)")
    out: str | None = knob(None, label="Rows file", help="the rows' Parquet file, written as chunks finish; a rerun "
                                                         "into it skips the series already done with the same bars "
                                                         "and settings")
    steps_out: str | None = knob(None, label="Per-step quantiles file",
                                 help="a Parquet file of per-step quantiles (series x step)")
    device: object = None

    def __post_init__(self):
        object.__setattr__(self, "entries", tuple(self.entries))
        object.__setattr__(self, "fixes", tuple(self.fixes or ()))
        check_bounds(self)


@dataclass
class Screened:
    """A screen's rows (one per entry, in watchlist order: ``status`` "ok" or why there is no forecast), the per-step
    quantiles of the "ok" ones, what was forecast now, kept from an earlier run into the same file or failed, the
    times, and what every face shows beside the rows (``notices``; ``conditioned``: what the forecasts were
    conditioned on, in words, '' when not)."""

    rows: pd.DataFrame
    steps: pd.DataFrame | None
    forecast: int
    kept: int
    failed: int
    elapsed_s: float
    forecast_s: float
    notices: list[Notice] = field(default_factory=list)
    conditioned: str = ""
    # the risk measures' columns a face labels (``risk.registry.screen_columns`` of the request's positions and levels)
    risk_columns: list[ScreenColumn] = field(default_factory=list)

    @property
    def series_per_minute(self) -> float:
        return 60.0 * self.forecast / self.forecast_s if self.forecast_s > 0 else float("nan")


def check(desk, request: ScreenRequest):
    """What is refused before any series is read (a job's face asks before the job starts): the size within the
    face's limits (none on the command line and in the app) and the covariates, read once (a ``Conditioning``, or
    None: none named and a model that reads none)."""
    forecast, n = request.settings.forecast, len(request.entries)
    if not n:
        raise InputError("the watchlist has no series", fix=Fix("add series to the watchlist"))
    if desk.limits is not None:
        desk.limits.check_path_steps(forecast.paths, forecast.horizon)
        desk.limits.check_series(n)
        desk.limits.check_job_steps(n * forecast.paths * forecast.horizon, f"series x paths x horizon = {n} x "
                                                                         f"{forecast.paths} x {forecast.horizon}")
    return read_for_batch(desk, request.model, request.covariates, (e.interval for e in request.entries))


def screen(desk, request: ScreenRequest, *, progress=None, workspace: str | None = None, ledger=None) -> Screened:
    """Every entry of ``request`` forecast (or kept from an earlier run into its ``out``), on the desk's warm models
    (Ray actors load their own); ``progress(done, todo, series_per_s)``; ``ledger``: whose registry the model
    ``champion`` reads each series' champion from (its workspace's; None: ``workspace``'s in the default ledger)."""
    conditioning = check(desk, request)
    run = BatchRun(model=request.model, out=request.out, steps_out=request.steps_out, engine=request.engine.engine,
                   ray_address=request.engine.ray_address, workers=request.engine.workers, chunk_series=request.chunk,
                   device=request.device, fixes=request.fixes, calendar=request.calendar,
                   workspace=ledger.workspace if ledger is not None else workspace,
                   ledger_url=ledger.url if ledger is not None else None, registry=desk.registry,
                   covariates=conditioning)
    done = run_batch(list(request.entries), request.settings, run, progress)
    notices = (paths_notices(request.settings.forecast.paths) + interval_notices(done.rows) + risk_notices(done.rows)
               + (conditioning.notices if conditioning is not None else []))
    risk = request.settings.risk
    return Screened(done.rows, done.steps, done.forecast, done.kept, done.failed, done.elapsed_s, done.forecast_s,
                    notices, conditioned_words(conditioning), screen_columns(risk.positions, risk.levels))


def conditioned_words(conditioning) -> str:
    """What a conditioned screen's forecasts read, in words ('' for a screen not conditioned)."""
    if conditioning is None:
        return ""
    return conditioned_note({"conditioned_on": conditioning.named(),
                             "known_future": list(conditioning.options.known_future)})


def recent_closes(entries, rows: pd.DataFrame, bars: int, fixes: tuple[str, ...] = (),
                  calendar: str | None = None) -> dict[str, np.ndarray]:
    """series -> the last ``bars`` closes up to each "ok" row's last bar (its ``history_end``): what a screen's row
    was forecast from, for a face to draw beside its fan, read again as the screen read them (files and samples
    from disk, a source's symbols through the bar cache; ``fixes`` and ``calendar``: the screen's)."""
    ok = rows[rows["status"] == "ok"]
    by_name = {e.series: e for e in entries}
    chosen = [by_name[s] for s in ok["series"] if s in by_name]
    if not chosen:
        return {}
    ends = dict(zip(ok["series"], ok["history_end"]))
    out = {}
    for loaded in load_entries(chosen, bars + 5, fixes=tuple(fixes), calendar=calendar):
        if loaded.bars is None:
            continue
        frame = loaded.bars.frame
        keep = np.asarray(utc(frame["timestamp"]) <= pd.Timestamp(ends[loaded.entry.series]))
        out[loaded.entry.series] = frame["close"].to_numpy(dtype=float)[keep][-bars:]
    return out


SERVED_BARS = 600  # bars read again per series for its risk model's reading (the standard models read 501)


def served_columns(desk, entries, rows: pd.DataFrame, settings, risk, *, fixes: tuple[str, ...] = (),
                   calendar: str | None = None, workspace: str | None = None) -> pd.DataFrame:
    """``rows`` (a screen's) with each "ok" series' risk-champion columns (``Desk.served_rows``: the risk model
    serving it, why, and its VaR and ES), read from the bars up to the row's last bar, read again as the screen
    read them (``fixes``, ``calendar``)."""
    ok = rows[rows["status"] == "ok"] if "status" in rows else rows.iloc[:0]
    ends = dict(zip(ok["series"], ok["history_end"])) if "history_end" in ok else {}
    wanted = [e for e in entries if e.series in ends]
    if not wanted:
        return rows
    series_bars = []
    for loaded in load_entries(wanted, SERVED_BARS, fixes=tuple(fixes), calendar=calendar):
        if loaded.bars is None:
            continue
        keep = np.asarray(utc(loaded.bars.frame["timestamp"]) <= pd.Timestamp(ends[loaded.entry.series]))
        frame = loaded.bars.frame[keep].reset_index(drop=True)
        series_bars.append((loaded.entry.series, dataclasses.replace(loaded.bars, frame=frame)))
    served = desk.served_rows(series_bars, settings, risk, workspace=workspace)
    return rows.merge(served, on="series", how="left") if len(served) else rows
