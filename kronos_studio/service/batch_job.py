"""A batch request (``schemas.BatchRequest``) as a job for ``jobs.JobRunner``: its series turned into a watchlist
and the request checked by the desk before the job starts (a 422 or a 413 at once), then ``Desk.screen`` (with
``evaluate``, ``Desk.rank``: ``rank_job``) into the job's folder."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from kronos_studio.desk import READING, BatchSettings, Entry, ScreenRequest

from .errors import ServiceError, notice_line
from .limits import Limits
from .schemas import batch_risk, knob_options

SERIES_NAME_CHARS = "A-Za-z0-9_.-"
INPUTS = "inputs"  # the job's folder of the request's CSV texts, one file per series


def series_entries(desk, series, limits: Limits) -> tuple[tuple[Entry, ...], dict[str, str]]:
    """A request's series (``schemas.BatchSeries``) checked now (a bad one is a 422, too many or too long a 413,
    before any job starts): (their watchlist entries, a CSV text's naming its file in the folder ``placed`` writes
    it to; the CSV texts by series name)."""
    limits.check_series(len(series))
    files, symbols = {}, []
    for i, s in enumerate(series, 1):
        if (s.bars_csv is None) == (s.source is None):
            raise ServiceError(422, f"series {i}: give either bars_csv or source + symbol + interval")
        if s.bars_csv is not None:
            name = s.name or f"series{i}"
            if not re.fullmatch(f"[{SERIES_NAME_CHARS}]{{1,100}}", name):
                raise ServiceError(422, f"series {i}: name '{name}' may use only letters, digits, '_', '.', '-'")
            if name in files:
                raise ServiceError(422, "two series share a name: give each a name of its own")
            limits.check_csv_lines(s.bars_csv, name)  # each series' bars, as one forecast's are bounded
            files[name] = s.bars_csv
        elif not s.symbol or not s.interval:
            raise ServiceError(422, f"series {i}: source '{s.source}' needs a symbol and an interval")
        else:
            symbols.append((s.source, s.symbol, s.interval, s.exchange))
    return tuple(Entry(series=name, file=f"{name}.csv") for name in files) + desk.watchlist(symbols), files


def placed(entries, texts: dict[str, str], folder: Path) -> tuple[Entry, ...]:
    """``entries`` with the request's CSV ``texts`` written into ``folder``'s inputs, each file entry naming its."""
    inputs = folder / INPUTS
    inputs.mkdir()
    for name, text in texts.items():
        (inputs / f"{name}.csv").write_text(text)
    return tuple(e if e.file is None else dataclasses.replace(e, file=str(inputs / e.file)) for e in entries)


def batch_run(body, settings, desk, ledger):
    """The job of a batch request on the service's ``desk`` (its warm models, its limits), its ``ledger`` scoped to
    the caller's workspace (whose champions the model ``champion`` serves): checked now, run later."""
    from .compute import covariate_options

    entries, texts = series_entries(desk, body.series, desk.limits)
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
        return rank_run(body, settings, (entries, texts), desk, ledger.workspace)
    touch = {"touch_levels": tuple(body.touch_levels)} if body.touch_levels is not None else {}
    request = ScreenRequest(entries, BatchSettings(settings, risk=batch_risk(body), **touch), model=body.model,
                            covariates=covariates, **knob_options(body, ScreenRequest, READING))
    desk.check_screen(request)

    def run(folder: Path, stop):
        from .jobs import checkpoint

        out = folder / "results.parquet"
        done = desk.screen(dataclasses.replace(request, entries=placed(entries, texts, folder), out=str(out)),
                           ledger=ledger, progress=lambda *_: checkpoint(stop))  # a cancel stops it after a chunk
        return out, {"series": len(done.rows), "forecast": done.forecast, "failed": done.failed,
                     "elapsed_s": round(done.elapsed_s, 3), "warnings": [notice_line(n) for n in done.notices]}

    return run


def screen_fields() -> set[str]:
    """The request fields only a screen reads: its touch levels and its risk columns' settings."""
    from kronos.settings import knobs
    from kronos_studio.desk import RISK_KNOBS, RiskSettings

    return {"touch_levels"} | {knob.name(name) for name, (_, knob) in knobs(RiskSettings).items() if name in RISK_KNOBS}
