"""A retrain request (``schemas.RetrainRequest``) as a job for ``jobs.JobRunner``: the bars read and gated
and the settings checked before the job starts (a 422 at once), then the gated retrain of the series
(``kronos_studio.training.retrain``) in the request's workspace; the result is one row per decision."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .errors import ServiceError

FIELDS = {"window": "window", "lookback": "lookback", "cutoffs": "n_cutoffs", "steps": "steps", "paths": "paths"}


def retrain_run(body, limits, ledger, load_pair):
    """The job of a retrain request on ``ledger`` (scoped to the request's workspace); ``load_pair(ref)``:
    the service's warm Kronos pairs."""
    from kronos_studio.bundled import default_model_path, model_reference
    from kronos_studio.training.retrain import Retrainer, RetrainError, RetrainSettings

    from . import compute

    bars, _ = compute.gated_bars(limits, bars_csv=body.bars_csv, source=body.source, symbol=body.symbol,
                                 interval=body.interval, exchange=body.exchange, timezone=body.timezone,
                                 calendar=body.calendar, fix=body.fix)
    chosen = {FIELDS[k]: v for k, v in body.model_dump().items() if k in FIELDS and v is not None}
    settings = replace(RetrainSettings(horizon=body.horizon), **chosen)
    try:
        settings.check()
        pair = load_pair(model_reference(body.model) if body.model else str(default_model_path()))
        retrainer = Retrainer(pair, bars, ledger, settings)
        points = retrainer.points(body.every)
    except RetrainError as e:
        raise ServiceError(422, str(e)) from None

    def run(folder: Path):
        import pandas as pd

        report = retrainer.run(points)
        out = folder / "decisions.parquet"
        pd.json_normalize(report.decisions).to_parquet(out, index=False)
        return out, {"decisions": len(report.decisions), "champion": report.champion,
                     "promoted": sum(d["decision"] == "promoted" for d in report.decisions)}

    return run
