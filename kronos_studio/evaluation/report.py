"""The walk-forward report ``kronos evaluate`` writes, as a dict: a model and every naive baseline (and a
mixture's members) on the latest cut-offs of a series, with CRPS, MAE, coverage, CRPS skill against the
random walk with its 95% interval and the conformal calibration's held-out check. The command line and
the service both build their JSON here."""
from __future__ import annotations

from dataclasses import dataclass

from kronos.errors import Fix, Notice
from kronos_studio.evaluation.baselines import REFERENCE
from kronos_studio.evaluation.training_period import INCLUDE_TRAINING_PERIOD
from kronos_studio.evaluation.trust import TrustPlan, evaluate, guard_note, skill_interval, skill_score
from kronos_studio.evaluation.walk_forward import member_results
from kronos_studio.forecasters.window import check_history


@dataclass
class EvaluationReport:
    out: dict  # the JSON ``kronos evaluate`` writes
    warnings: list[Notice]  # for the user, worded by each entry point: fewer cut-offs than asked, the guard
    cutoffs: int  # cut-offs scored


@dataclass(frozen=True)
class Walked:
    """What a report says of the model it walked forward: its ``describe()``, a mixture's members (key -> name) and
    the bars each cut-off read."""

    model: dict
    members: dict
    lookback: int


def walked_history(forecaster, bars, settings) -> Walked:
    """``Walked`` of ``forecaster`` reading ``bars`` with ``settings``, refused (``InputError``) when the bars are too
    short for one cut-off's history (the settings' lookback, else the forecaster's own)."""
    lookback = settings.lookback or forecaster.lookback(settings.horizon)
    check_history(forecaster, len(bars.frame), lookback)  # every cut-off's history is `lookback` bars
    return Walked(forecaster.describe(), {key: m.name for key, m in forecaster.members.items()}, lookback)


def evaluation_report(forecaster, bars, settings, plan=None, *, file: str | None = None) -> EvaluationReport:
    """Walk ``forecaster`` (a ``kronos_studio.forecasters.Forecaster``) and the baselines forward over ``plan``'s
    cut-offs of ``bars`` (an ``evaluation.trust.TrustPlan``; None: its defaults) with ``settings``. Raises
    ``TrainingPeriodError`` when every cut-off lies inside the model's training period, ``InputError`` for bars
    too short."""
    plan = plan or TrustPlan()
    walked = walked_history(forecaster, bars, settings)
    return report_body(evaluate(forecaster, bars.frame, settings, plan), walked, bars, settings, plan, file)


def report_body(report, walked: Walked, bars, settings, plan, file: str | None = None) -> EvaluationReport:
    """The ``kronos evaluate`` JSON and its notices of a walk-forward ``report`` (``evaluation.trust.TrustReport``)
    of ``bars`` by the model ``walked`` says, run with ``settings`` and ``plan``."""
    horizon, lookback = settings.horizon, walked.lookback
    results = {"model": ("model", report.model)}
    # A mixture's walk-forward keeps what each member gave it, so each member is scored on those paths.
    results |= {f"member_{key}": ("member", r) for key, r in member_results(report.model, walked.members).items()}
    results |= {key: ("baseline", r) for key, r in report.baselines.items()}
    out = {"file": file, "symbol": bars.symbol, "horizon": horizon,
           "cutoffs": report.cutoffs, "paths": settings.paths, "seed": settings.seed, "lookback": lookback,
           "first_cutoff": str(report.model.cutoff_times[0]), "last_cutoff": str(report.model.cutoff_times[-1]),
           "crps_estimator": report.badge()["crps_estimator"], **report.guard, "model": walked.model,
           "models": {key: model_scores(r, role, report.baselines[REFERENCE]) for key, (role, r) in results.items()}}
    members = {key: r for key, (role, r) in results.items() if role == "member"}
    if members:  # a mixture: is it worth more than its best member alone (chosen after the fact)?
        best = min(members, key=lambda key: members[key].summary()["crps_pct"])
        out["models"]["model"]["vs_best_member"] = {"member": best, **paired_skill(report.model, members[best])}
    check = report.check
    out["models"]["model"]["calibration_held_out"] = None if check is None else {
        "fit_cutoffs": check.n_fit, "held_out_cutoffs": check.n_test, "coverage_before": check.before,
        "coverage_after": check.after, "crps_before": check.crps_before, "crps_after": check.crps_after}
    warnings = walk_notices(report, plan, lookback, horizon)
    if guard_note(report.guard):
        warnings.append(Notice(guard_note(report.guard)))
    return EvaluationReport(out, warnings, report.cutoffs)


def walk_notices(report, plan, lookback: int, horizon: int) -> list[Notice]:
    """What a reader of a walk-forward ``report`` run with ``plan`` must know of its cut-offs: fewer fitted the bars
    than were asked for, or the time limit stopped the run before the last of them."""
    out = []
    asked = plan.n_cutoffs
    if report.requested < asked:
        fix = [Fix("lower {setting} or load more bars", "lookback")]
        if report.guard.get("in_training_period"):
            fix.append(Fix("include those inside the model's training period, left out now ({setting})",
                           INCLUDE_TRAINING_PERIOD, True))
        out.append(Notice(f"only {report.requested} of the {asked} cut-offs were scored: each needs {lookback} "
                          f"bars of history and {horizon} after it", tuple(fix),
                          values={"scored": report.requested, "cutoffs": asked, "lookback": lookback,
                                  "horizon": horizon}))
    if report.cut_short:
        out.append(Notice(f"the time limit of {plan.time_limit_s} s ended the run after {report.cutoffs} of "
                          f"{report.requested} cut-offs (the newest)",
                          (Fix("raise {setting} (0: none) or ask for fewer cut-offs", "time_limit"),),
                          values={"scored": report.cutoffs, "cutoffs": report.requested,
                                  "time_limit": plan.time_limit_s}))
    return out


def paired_skill(result, reference) -> dict:
    """CRPS skill of ``result`` against ``reference`` on the same cut-offs, with its paired-bootstrap 95%
    interval."""
    ours, theirs = result.crps_pct_by_cutoff(), reference.crps_pct_by_cutoff()
    lo, hi = skill_interval(ours, theirs)
    return {"crps_skill": skill_score(float(ours.mean()), float(theirs.mean())), "ci95": [lo, hi]}


def model_scores(result, role: str, reference) -> dict:
    """One entry of the JSON's ``models``: CRPS, MAE, coverage and skill against ``reference`` (the random
    walk's result on the same cut-offs) with its paired-bootstrap 95% interval."""
    s, skill = result.summary(), paired_skill(result, reference)
    return {"name": result.name, "role": role, "crps": s["crps"], "crps_pct": s["crps_pct"], "mae": s["mae_median"],
            "coverage_p10_p90": s["coverage_p10_p90"], "paths": s["paths"],
            "crps_skill_vs_random_walk": skill["crps_skill"], "crps_skill_ci95": skill["ci95"]}
