"""A retrain request (``schemas.RetrainRequest``) as a job for ``jobs.JobRunner``: the bars read and gated
and the settings checked before the job starts (a 422 at once), then the gated retrain of the series
(``kronos_studio.training.retrain``) in the request's workspace; the result is one row per decision. With
``series`` (a watchlist, as ``POST /v1/batch`` takes), every series is retrained in turn
(``kronos_studio.batch.retrain_watchlist``) and each row names its series; a series refused or locked
is one row saying so, and the others go on."""
from __future__ import annotations

from pathlib import Path

from .errors import ServiceError, refused
from .public_ids import AdapterNumbers

MADE_BY = "POST /v1/retrain"  # what the registry records as the maker of the adapters a request trains
ONE_SERIES = ("bars_csv", "source", "symbol", "interval", "exchange", "timezone")  # a watchlist names its own


def retrain_run(body, desk, ledger):
    """The job of a retrain request on ``ledger`` (scoped to the request's workspace) through the service's
    ``desk`` (its warm Kronos pairs, its limits). Without a model, a series is retrained on its champion's base."""
    from kronos.settings import knob_values
    from kronos_studio.training.retrain import RetrainError, RetrainSettings

    from . import compute

    try:  # the settings' own checks (one rule for every face), worded with request fields
        settings = RetrainSettings(horizon=body.horizon, include_training_period=body.include_training_period,
                                   **knob_values(body, RetrainSettings))
    except RetrainError as e:
        raise refused(422, e) from None
    limits = desk.limits
    check_size(limits, settings)
    if body.series is not None:
        return watchlist_run(body, settings, ledger, desk.registry.loader(body.model), limits)
    try:
        settings.check()
        retraining = desk.retrain(compute.bars_request(body), body.model, settings, ledger=ledger,
                                  every=body.every, ways=compute.HTTP_WAYS, made_by=MADE_BY)
    except RetrainError as e:
        raise refused(422, e) from None
    check_size(limits, settings, decisions=len(retraining.points))

    def run(folder: Path, stop):
        import pandas as pd

        from .jobs import checkpoint

        # a cancel stops it at the next training step or scoring phase: a retrain is made to be stopped
        # anywhere (the next one of the series clears what this one left half done)
        report = retraining.run(progress=lambda *_: checkpoint(stop))
        numbers = AdapterNumbers(ledger)  # read after the run: the adapters it registered are numbered too
        out = folder / "decisions.parquet"
        pd.json_normalize([numbers.decision(d) for d in report.decisions]).to_parquet(out, index=False)
        return out, {"decisions": len(report.decisions), "champion": numbers.number(report.champion),
                     "promoted": sum(d["decision"] == "promoted" for d in report.decisions)}

    return run


def check_size(limits, settings, series: int = 1, decisions: int | None = None) -> None:
    """A retrain's settings within the limits (413): training steps, paths x horizon of a held-out forecast,
    held-out cut-offs, and the job's held-out sampling over its series and decisions (one each when the
    decisions are not known yet)."""
    limits.check_training(settings.steps, decisions)
    limits.check_path_steps(settings.paths, settings.horizon)
    limits.check_cutoffs(settings.n_cutoffs, "held-out cut-offs")
    work = series * (decisions or 1) * settings.n_cutoffs * settings.paths * settings.horizon
    limits.check_job_steps(work, f"series x decisions x cut-offs x paths x horizon = {series} x {decisions or 1} x "
                                 f"{settings.n_cutoffs} x {settings.paths} x {settings.horizon}")


def watchlist_run(body, settings, ledger, load_pair, limits):
    """The job of a retrain request with ``series``: checked now, then each series retrained in turn."""
    from kronos_studio.batch.retrain_watchlist import (
        DECIDED,
        SeriesRetrainer,
        WatchlistRetrain,
        retrain_watchlist,
    )
    from kronos_studio.catalog.champion import retrain_reference
    from kronos_studio.training.retrain import RetrainError

    from .batch_job import series_entries
    from .errors import one_line

    given = [name for name in ONE_SERIES if getattr(body, name) is not None]
    if given:
        raise ServiceError(422, f"series names its series' bars: leave out {', '.join(given)}, or give one series' "
                                "bars without series")
    write_entries = series_entries(body.series, limits)
    check_size(limits, settings, series=len(body.series))
    try:
        settings.check()
        model = retrain_reference(body.model)
    except RetrainError as e:
        raise refused(422, e) from None
    job = WatchlistRetrain(settings, model=model, every=body.every, fixes=tuple(body.fix), calendar=body.calendar,
                           max_points=limits.decisions, made_by=MADE_BY)

    def run(folder: Path, stop):
        import pandas as pd

        from .jobs import checkpoint

        rows, summary = [], {"series": len(body.series), "decided": 0, "refused": 0, "locked": 0, "promoted": 0}
        unit = SeriesRetrainer(job, ledger, load_pair)
        for outcome in retrain_watchlist(write_entries(folder), job, unit=unit):
            checkpoint(stop)  # a cancel stops it between series
            summary[outcome.status] += 1
            if outcome.status == DECIDED:
                rows += [{"series": outcome.series, **d, "series_champion": outcome.champion}
                         for d in outcome.decisions]
                summary["promoted"] += sum(d["decision"] == "promoted" for d in outcome.decisions)
            else:
                rows.append({"series": outcome.series, "decision": outcome.status, "reason": one_line(outcome.error)})
        numbers = AdapterNumbers(ledger)
        out = folder / "decisions.parquet"
        pd.json_normalize([numbers.decision(r) for r in rows]).to_parquet(out, index=False)
        return out, summary

    return run
