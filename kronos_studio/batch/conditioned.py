"""The worker of a batch conditioned on covariates (``kronos batch --with``): every series forecast by the bundled
Chronos-2 reading the covariates, read once by the caller (a ``covariates.conditioning.Conditioning``), each series
aligning them as of its own bars' closes (``CovariateChronos2``), as ``Desk.forecast(..., covariates=...)`` forecasts
that series alone. A series the covariates cannot condition (it is one of them, they do not cover its history, ...)
gets its row with the one-line reason."""
from __future__ import annotations

import json

from kronos.errors import UserError
from kronos_studio.catalog.kinds import kind_of
from kronos_studio.covariates.conditioning import conditioned_member, not_read_by, shared_chronos2

from .forecaster import BatchSettings, ChunkForecaster, SeriesJob, SeriesResult, failure_row


class ConditionedChunkForecaster(ChunkForecaster):
    """A ``ChunkForecaster`` of the bundled Chronos-2 (``model`` must name it: any other is refused as the desk
    refuses it, ``not_read_by``) conditioned on ``covariates``; its rows name the covariates and what each series'
    alignment noted."""

    def __init__(self, model: str | None, settings: BatchSettings, covariates, *, workspace: str | None = None,
                 registry=None):
        self.covariates = covariates
        super().__init__(model, settings, workspace=workspace, registry=registry)
        self.provenance["model"] = model  # as the request names it, not by the folder its weights lie in

    def base_forecaster(self, device):
        """Chronos-2 without the covariates, which every series' own conditioned member is made of."""
        from kronos_studio.ensemble.chronos2 import Chronos2Member

        if not kind_of(self.model).reads_covariates:
            raise not_read_by(self.model, self.covariates.options)
        shared = shared_chronos2(None if self.registry is None else self.registry.warm)
        return Chronos2Member(shared.pipeline, source=shared.source)

    def forecast(self, jobs: list[SeriesJob]) -> list[SeriesResult]:
        """A result per job, in order: each series by its own conditioned Chronos-2."""
        return [self._conditioned(job) for job in jobs]

    def _conditioned(self, job: SeriesJob) -> SeriesResult:
        try:
            member = conditioned_member(self.covariates, job.bars, self.forecaster)
        except UserError as e:
            return SeriesResult(failure_row(job.series, job.origin, f"covariates refused: {e.worded()}"))
        result = self._forecast(member, [job])[0]
        if result.steps is not None:
            aligned = member.alignment(job.bars.frame.tail(self.forecast_settings.lookback))
            result.row.update(covariates=json.dumps(self.covariates.named()),
                              known_future=",".join(self.covariates.options.known_future),
                              covariate_notes="; ".join(n.worded() for n in aligned.notices) if aligned else "")
        return result
