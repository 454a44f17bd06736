"""A batch request (``schemas.BatchRequest``) as a job for ``jobs.JobRunner``: its series checked before
the job starts, then ``kronos_studio.batch.engine.run_batch`` into the job's folder."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .errors import ServiceError
from .limits import Limits

SERIES_NAME_CHARS = "A-Za-z0-9_.-"


def series_entries(series, limits: Limits) -> Callable[[Path], list]:
    """A request's series (``schemas.BatchSeries``) checked now (a bad one is a 422, too many or too long a
    413, before any job starts); returns ``write_entries(folder)``: their watchlist entries, the CSV texts
    written under ``folder``."""
    import re

    from kronos_studio.batch.watchlist import Entry, symbol_entries

    limits.check_series(len(series))
    files, symbols = [], []
    for i, s in enumerate(series, 1):
        if (s.bars_csv is None) == (s.source is None):
            raise ServiceError(422, f"series {i}: give either bars_csv or source + symbol + interval")
        if s.bars_csv is not None:
            name = s.name or f"series{i}"
            if not re.fullmatch(f"[{SERIES_NAME_CHARS}]{{1,100}}", name):
                raise ServiceError(422, f"series {i}: name '{name}' may use only letters, digits, '_', '.', '-'")
            limits.check_csv_lines(s.bars_csv, name)  # each series' bars, as one forecast's are bounded
            files.append((name, s.bars_csv))
        elif not s.symbol or not s.interval:
            raise ServiceError(422, f"series {i}: source '{s.source}' needs a symbol and an interval")
        else:
            symbols.append((s.source, s.symbol, s.interval, s.exchange))
    names = [n for n, _ in files]
    if len(set(names)) < len(names):
        raise ServiceError(422, "two series share a name: give each a name of its own")

    def write_entries(folder: Path) -> list:
        inputs = folder / "inputs"
        inputs.mkdir()
        entries = []
        for name, text in files:
            (inputs / f"{name}.csv").write_text(text)
            entries.append(Entry(series=name, file=str(inputs / f"{name}.csv")))
        return entries + symbol_entries(symbols)

    return write_entries


def read_covariates(body, covariates, limits: Limits, registry):
    """The covariates every series of the request is conditioned on, read once now (a bad one refused before any
    job starts; None: none named)."""
    from kronos_studio.desk import Desk
    from kronos_studio.desk.covariates import read_for_batch

    return read_for_batch(Desk(registry, limits=limits), body.model, covariates, (s.interval for s in body.series))


def batch_run(body, settings, ledger, limits: Limits, registry):
    """The job of a batch request: its series and its size checked now (a bad one is a 422, past a limit a
    413, before any job starts), run by ``kronos_studio.batch.engine.run_batch`` into the job's folder
    (``ledger``: the service's, scoped to the caller's workspace, whose champions the model ``champion``
    serves) on ``registry``'s warm models (the service's ``ModelRegistry``)."""
    from kronos_studio.batch.forecaster import BatchSettings

    from .compute import covariate_options

    limits.check_path_steps(settings.paths, settings.horizon)
    write_entries = series_entries(body.series, limits)
    from .schemas import batch_risk

    extra = {"touch_levels": tuple(body.touch_levels)} if body.touch_levels is not None else {}
    batch_settings = BatchSettings(settings, risk=batch_risk(body), **extra)

    covariates = covariate_options(body)
    if body.evaluate is not None:
        from .rank_job import rank_run

        if covariates:
            raise ServiceError(422, "covariates condition a screen's forecasts; evaluate ranks without them "
                                    "(evaluate one series with covariates: POST /v1/evaluate)")
        unread = screen_fields() & body.model_fields_set
        if unread:  # the CLI refuses the same flags with --evaluate
            raise ServiceError(422, f"{', '.join(sorted(unread))} shape a screen's rows; evaluate scores the ranking "
                                    "and writes none: leave them out, or drop evaluate")

        return rank_run(body, settings, write_entries, limits, registry, ledger.workspace)
    n = len(body.series)
    conditioning = read_covariates(body, covariates, limits, registry)
    limits.check_job_steps(n * settings.paths * settings.horizon, f"series x paths x horizon = {n} x "
                                                                  f"{settings.paths} x {settings.horizon}")

    def run(folder: Path, stop):
        from kronos_studio.batch.engine import BatchRun, run_batch

        from .jobs import checkpoint

        entries = write_entries(folder)
        out = folder / "results.parquet"
        result = run_batch(entries, batch_settings, BatchRun(model=body.model, out=out, fixes=tuple(body.fix),
                                                             calendar=body.calendar, workspace=ledger.workspace,
                                                             ledger_url=ledger.url, registry=registry,
                                                             covariates=conditioning),
                           progress=lambda *_: checkpoint(stop))  # a cancel stops it after a chunk of series
        return out, {"series": len(result.rows), "forecast": result.forecast, "failed": result.failed,
                     "elapsed_s": round(result.elapsed_s, 3)}

    return run


def screen_fields() -> set[str]:
    """The request fields only a screen reads: its touch levels and its risk columns' settings."""
    from kronos.settings import knobs
    from kronos_studio.batch.forecaster import RISK_KNOBS
    from kronos_studio.risk.measures import RiskSettings

    return {"touch_levels"} | {knob.name(name) for name, (_, knob) in knobs(RiskSettings).items() if name in RISK_KNOBS}
