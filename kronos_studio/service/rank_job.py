"""``POST /v1/batch`` with ``evaluate``: the cross-sectional walk-forward of the request's series
(``kronos_studio.batch.rank_run``) as a job, its result the JSON report with the per-(date, series) panel
(``/result``), the panel also kept as Parquet (``/result?format=parquet``)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from .errors import ServiceError


def rank_run(body, settings, write_entries, limits, registry, workspace: str | None):
    """The job of an evaluating batch request: the plan checked now (a bad one is a 422, past a limit a 413),
    run later into the job's folder from the series ``write_entries(folder)`` lays out, on ``registry``'s warm
    model, sampled in ``workspace``'s turns."""
    from kronos_studio.batch.cross_section import RankPlan

    ask = body.evaluate
    paths, n = max(ask.paths), len(body.series)  # each date samples the most paths asked (the others: subsets)
    limits.check_path_steps(paths, settings.horizon)
    limits.check_cutoffs(ask.cutoffs)
    limits.check_job_steps(n * ask.cutoffs * paths * settings.horizon, f"series x cut-offs x paths x horizon = "
                                                                       f"{n} x {ask.cutoffs} x {paths} x {settings.horizon}")
    try:
        plan = RankPlan(cutoffs=ask.cutoffs, step=ask.step, paths=tuple(sorted(set(ask.paths))),
                        include_trained=ask.include_training_period, costs_bps=ask.costs_bps)
    except ValueError as e:
        raise ServiceError(422, str(e)) from None
    settings = dataclasses.replace(settings, paths=plan.paths[-1])

    def run(folder: Path, stop):
        from kronos_studio.batch.rank_run import evaluate_watchlist

        from .jobs import checkpoint

        forecaster = registry.in_turn(registry.forecaster(body.model, None, settings), body.model, workspace)
        result = evaluate_watchlist(forecaster, write_entries(folder), settings, plan,
                                    {"fixes": tuple(body.fix), "calendar": body.calendar},
                                    progress=lambda *_: checkpoint(stop))  # a cancel stops it between runs
        result.write_panel(folder / "panel.parquet")
        out = folder / "rank_report.json"
        result.write_json(out)
        report = result.report
        return out, {"dates": report["dates"], "series": report["series"], "paths": report["paths"],
                     "elapsed_s": report["elapsed_s"]}

    return run
