"""Training the ensemble's meta-learner (``kronos train ensemble``): over the walk-forward of several series
(``Desk.train_ensemble``: every member's forecast at past cut-offs of each and what happened next, the LightGBM
meta-learner fitted on them in time order), or over the ensemble forecasts the ledger scored, through the
champion/challenger gate (``Desk.gate_ensemble``: it serves the workspace's ensemble only when it beats the serving
meta-learner on the newest scored forecasts it was not trained on). One series' stacking weights are
``fit_ensemble``'s.

The ensemble's packages (LightGBM, arch, pandas) are imported when a meta-learner is trained."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kronos.config import default_lookback
from kronos.errors import Fix, InputError, Notice
from kronos.lazy import pd
from kronos.settings import ForecastSettings
from kronos_studio.bundled import default_model_path, model_reference
from kronos_studio.ensemble.members import weights_sha256
from kronos_studio.evaluation.walk_forward import choose_cutoffs

FILES_CUTOFFS = 60  # cut-offs per series of a meta-learner over several (one series' fit: fit_ensemble's)
LEAST_CUTOFFS = 4
WALK_MIN_LOOKBACK = 120  # bars before the first cut-off at least: the members' features need a history


@dataclass(frozen=True)
class TrainEnsembleRequest:
    """A meta-learner over the walk-forward of ``series`` ((name, gated bars) each: the name as the user gave it,
    the series named by its stem in the meta-learner's provenance), every member sampling at ``settings`` (the
    horizon, paths and sampling options), ``n_cutoffs`` cut-offs per series; the ensemble's Kronos ``model``
    (a reference; None: the bundled one) on ``device``, its Chronos-2 member ``chronos2`` (the resolver's choice)."""

    series: tuple
    settings: ForecastSettings
    model: str | None = None
    n_cutoffs: int = FILES_CUTOFFS
    chronos2: object = None
    device: object = None

    def __post_init__(self):
        if self.n_cutoffs < LEAST_CUTOFFS:
            raise InputError(f"{self.n_cutoffs} cut-offs per series cannot fit a meta-learner",
                             {"cutoffs": self.n_cutoffs},
                             Fix(f"set {{setting}} to {LEAST_CUTOFFS} or more", "cutoffs", LEAST_CUTOFFS))


@dataclass
class EnsembleTrained:
    """The meta-learner (``ensemble.meta.MetaLearner``: its members, method and validation CRPS), the cut-offs it
    was trained on, and which Chronos-2 joined the members (a note)."""

    meta: object
    cutoffs: int
    notices: list[Notice] = field(default_factory=list)


def train_ensemble(desk, request: TrainEnsembleRequest, *, progress=None) -> EnsembleTrained:
    """Walk the ensemble's members forward over ``request.n_cutoffs`` cut-offs of each series and fit the
    meta-learner; an ``InputError`` naming the series whose bars cannot hold the cut-offs."""
    from kronos.checkpoints import load_pair
    from kronos_studio.ensemble.bundled import default_members
    from kronos_studio.ensemble.chronos2 import ensemble_member
    from kronos_studio.ensemble.features import asset_class
    from kronos_studio.ensemble.train import SeriesSpec, fit_meta, signal_evaluations
    from kronos_studio.forecasting import studio_pipeline

    settings, horizon = request.settings, request.settings.horizon
    pair = load_pair(model_reference(request.model) or default_model_path(), device=request.device)
    # the members `forecast --model ensemble` will mix, Chronos-2 included when it joins there
    chronos2, status = ensemble_member(request.chronos2, settings.paths, pair.device)
    members = default_members(studio_pipeline(pair), settings, chronos2=chronos2)
    specs = []
    for name, bars in request.series:
        try:
            chosen = choose_cutoffs(len(bars.frame), horizon, request.n_cutoffs,
                                    max(default_lookback(pair.context, horizon), WALK_MIN_LOOKBACK))
        except InputError as e:
            raise InputError(f"'{name}': {e.problem}", e.values, e.fix) from None
        specs.append(SeriesSpec(Path(name).stem, bars, bars.interval, asset_class(bars.calendar, bars.source),
                                horizon, chosen))
    evals = signal_evaluations(specs, members, settings)
    meta = fit_meta(evals, settings.paths, info={"provenance": {"trained_on": [s.name for s in specs],
                                                                "kronos": pair.name, "horizon": horizon}})
    return EnsembleTrained(meta, len(evals.cutoffs), [Notice(status, kind="note")])


@dataclass(frozen=True)
class GateEnsembleRequest:
    """A challenger meta-learner fitted on the ledger's scored ensemble forecasts known ``since`` (a date or time,
    UTC when no zone is given; None: now), at least ``min_evaluations`` of them (None: ``MIN_EVALUATIONS``), the
    newest ``holdout`` (a count, or a share below 1; None: the gate's) held out for the gate; beside the Kronos
    ``model`` names (a folder on this machine; None: the bundled model)."""

    since: str | None = None
    min_evaluations: int | None = None
    holdout: float | None = None
    model: str | None = None


@dataclass
class EnsembleGated:
    """The gate's decision (``ensemble.gated.MetaDecision``: the challenger's registry entry after it, what served,
    the scores, whether it was decided on these forecasts before: ``skipped``)."""

    decision: object
    notices: list[Notice] = field(default_factory=list)


def kronos_base(model: str | None) -> tuple[str, str]:
    """(name, revision) of the Kronos the ensemble mixes (``model``, default the bundled one), as a forecast's
    provenance names it (``local:`` + its weights' sha256 prefix): a champion meta-learner serves only beside it."""
    folder = Path(model_reference(model) or default_model_path())
    digest = weights_sha256(folder / "predictor") or weights_sha256(folder)
    if digest is None:
        raise InputError(f"model {model}: the ledger's meta-learner is registered beside a Kronos folder on this "
                         "machine (tokenizer/ + predictor/)", {"model": model},
                         Fix("name one in {setting}, or leave it out for the bundled model", "model"))
    return folder.name, f"local:{digest}"


def gate_ensemble(desk, request: GateEnsembleRequest, *, ledger, log=None) -> EnsembleGated:
    """Hold out the newest scored ensemble forecasts known ``since``, fit a challenger on the older ones and let the
    gate decide whether it serves the workspace's ensemble (``ensemble.gated.gate_from_ledger``); ``log(line)``."""
    from kronos_studio.ensemble.from_ledger import MIN_EVALUATIONS
    from kronos_studio.ensemble.gated import MetaGateSettings, gate_from_ledger
    from kronos_studio.ledger.frames import as_utc

    least = MIN_EVALUATIONS if request.min_evaluations is None else request.min_evaluations
    try:
        before = as_utc(request.since) if request.since else pd.Timestamp.now(tz="UTC")
    except (ValueError, TypeError):
        raise InputError(f"since must be a date or time, got '{request.since}'", {"since": request.since},
                         Fix("give {setting} as a date or time like 2024-06-01", "since")) from None
    base_model, base_hash = kronos_base(request.model)
    settings = MetaGateSettings(before, least, base_model, base_hash, request.holdout)
    return EnsembleGated(gate_from_ledger(ledger, settings, log=log))
