"""``POST /v1/batch`` with ``evaluate``: ``Desk.rank`` of the request's series as a job, its result the JSON report
with the per-(date, series) panel (``/result``), the panel also kept as Parquet (``/result?format=parquet``)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from kronos_studio.desk import RankPlan, RankRequest

from .schemas import knob_options
from .series import placed


def rank_run(body, settings, series, desk, workspace: str | None):
    """The job of an evaluating batch request: checked now by the desk (past a limit a 413; the plan's fields were
    checked with the body), run later into the job's folder from the request's ``series`` (``series.series_entries``:
    the entries and their CSV texts) on the desk's warm model, sampled in ``workspace``'s turns."""
    entries, texts = series
    request = RankRequest(entries, settings, RankPlan(**knob_options(body.evaluate, RankPlan)), model=body.model,
                          **knob_options(body, RankRequest))
    desk.check_rank(request)

    def run(folder: Path, stop):
        from .jobs import checkpoint

        done = desk.rank(dataclasses.replace(request, entries=placed(entries, texts, folder)), workspace=workspace,
                         progress=lambda *_: checkpoint(stop))  # a cancel stops it between runs
        done.write_panel(folder / "panel.parquet")
        out = folder / "rank_report.json"
        done.write_json(out)
        report = done.report
        return out, {"dates": report["dates"], "series": report["series"], "paths": report["paths"],
                     "elapsed_s": report["elapsed_s"]}

    return run
