"""A batch request (``schemas.BatchRequest``) as a job for ``jobs.JobRunner``: its series turned into a watchlist
and the request checked by the desk before the job starts (a 422 or a 413 at once), then ``Desk.screen`` (with
``evaluate``, ``Desk.rank``: ``rank_job``) into the job's folder."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from kronos.settings import knobs
from kronos_studio.desk import READING, RISK_KNOBS, RiskSettings, ScreenRequest

from .compute import covariate_options
from .errors import ServiceError, notice_line
from .schemas import batch_settings, knob_options
from .series import placed, series_entries


def batch_run(body, settings, desk, ledger):
    """The job of a batch request on the service's ``desk`` (its warm models, its limits), its ``ledger`` scoped to
    the caller's workspace (whose champions the model ``champion`` serves): checked now, run later."""
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
    request = ScreenRequest(entries, batch_settings(body, settings), model=body.model,
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
    return {"touch_levels"} | {knob.name(name) for name, (_, knob) in knobs(RiskSettings).items() if name in RISK_KNOBS}
