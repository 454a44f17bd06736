"""The trust panel in the app: walk-forward reports kept by content (in the app's result cache), the latest
report of each model on each series (for the badge beside the fan, kept in the forecast ledger), and evaluation
runs with a progress bar."""
from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from kronos.quantiles import BAND_NAME
from kronos.settings import knobs
from kronos_studio.evaluation.trust import (
    STALE_BAND_NOTE,
    STALE_CRPS_NOTE,
    TrainingPeriodError,
    guard_note,
    plain_verdicts,
    signed_percent,
)

from . import auth, ensemble, forecasts
from . import ledger as ledger_ui
from .errors import CONTROLS, app_message
from .models import ModelChoice, forecaster, served_note
from .runs import ProgressBar

DEFAULT_CUTOFFS = 20
TIME_LIMIT_S = 120
FIT_SHARE = 0.5  # earlier half of the cut-offs fits the held-out check's calibration
SAMPLING = (*knobs(), "lookback")  # a calibration fitted with another value of one of these does not apply


INCLUDE_TRAINED_LABEL = CONTROLS["include_training_period"]


def include_trained_toggle(key: str) -> bool:
    """The switch that lets a walk-forward score cut-offs inside the model's training period (off: left out)."""
    return st.toggle(INCLUDE_TRAINED_LABEL, False, key=key,
                     help="A forecast of bars the model trained or validated on scores memory, not forecasting: "
                          "such cut-offs are left out of every score unless switched on here (and then flagged)")


def plan_words(bars, settings, plan: Plan, lookback: int) -> str:
    """The cut-offs a run of ``plan`` scores, in words: 'the latest 20 cut-offs', or how many of them fit the bars
    when fewer do (each needs ``lookback`` bars of history and the horizon after it)."""
    from kronos_studio.evaluation.trust import cutoffs_words, fitting_cutoffs

    n, horizon = len(bars.frame), settings.horizon
    fit = fitting_cutoffs(n, horizon, plan.n_cutoffs, plan.spacing or horizon, lookback)
    return cutoffs_words(fit, plan.n_cutoffs, n, lookback, horizon)


def refusal_detail(e: Exception) -> str:
    """An evaluation's failure in one line (the training-period guard's names the switch above)."""
    return app_message(e)


def in_sample_banner(guard: dict, cutoffs: int) -> None:
    """The red banner over scores that include cut-offs inside the model's training period (nothing otherwise)."""
    if guard.get("in_training_period") and guard.get("in_training_period_included"):
        st.error(f"**In-sample:** {guard['in_training_period']} of these {cutoffs} cut-offs forecast bars inside the "
                 f"model's training period ({guard['training_period']}). Their scores partly measure memory, not "
                 "forecasting.", icon=":material/history_edu:")


@dataclass(frozen=True)
class Plan:
    """What an evaluation run does, besides the data and the model."""

    n_cutoffs: int = DEFAULT_CUTOFFS
    spacing: int | None = None  # bars between cut-offs; None: the horizon
    time_limit_s: float = TIME_LIMIT_S
    fit_share: float = FIT_SHARE
    include_trained: bool = False  # also score cut-offs inside the model's training period (flagged)


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation run keeps: the report, which model served a per-series model's report (in words;
    None for any other model), and for the ensemble its ranking beside its members (``ensemble.rank``)."""

    report: object
    served: str | None = None
    ranking: object = None


class Reports:
    """The track record of the latest report per (series, model), kept in the forecast ledger too, so that
    the badge survives a restart and every process on the same ledger sees it. ``ledger``: what returns the
    ledger to keep them in (None while it cannot be opened); by default the app's."""

    def __init__(self, ledger: Callable[[], object] | None = None):
        self._ledger = ledger or ledger_ui.ledger
        self._latest: dict[tuple, object] = {}
        self._lock = threading.Lock()

    def put(self, series: tuple, report) -> None:
        record = report.track_record()
        with self._lock:
            self._latest[(auth.workspace(), series)] = record
        book = self._ledger()
        if book is not None:
            try:  # one transaction: a failure midway keeps the previous record whole
                book.put_track_record(series, record.to_dict())
            except Exception:  # a failed write costs the record its persistence, nothing else
                pass

    def latest(self, series: tuple):
        """The TrackRecord of the latest evaluation of this model on this series, or None."""
        with self._lock:
            record = self._latest.get((auth.workspace(), series))
        if record is not None:
            return record
        book = self._ledger()
        if book is None:
            return None
        from kronos_studio.evaluation.trust import TrackRecord

        try:
            data = book.track_record(series)
            record = None if data is None else TrackRecord.from_dict(data)
        except Exception:  # unreadable or unreachable: as if never evaluated
            return None
        if record is not None:
            record = record.current()  # another CRPS estimator's skill, another band rule's calibration: not shown
        if record is not None:
            with self._lock:
                self._latest[(auth.workspace(), series)] = record
        return record


@st.cache_resource(show_spinner=False)
def reports() -> Reports:
    return Reports()


def series_key(bars, choice: ModelChoice) -> tuple:
    """'This model on this series': new bars of the same series keep their track record."""
    return bars.source, bars.series_symbol, bars.interval, choice.key


def report_key(bars, choice: ModelChoice, settings, plan: Plan) -> str:
    """The kept evaluation's key (``desk.cache.result_key``), in the session's workspace."""
    from kronos_studio.desk.cache import result_key

    return result_key("trust", bars, forecasts.identity(choice, bars), settings, auth.workspace(),
                      plan=dataclasses.asdict(plan))


def kept(bars, choice: ModelChoice, settings, plan: Plan) -> Evaluation | None:
    return forecasts.results().peek(report_key(bars, choice, settings, plan))


def latest(bars, choice: ModelChoice):
    return reports().latest(series_key(bars, choice))


def mismatch(report, settings) -> str | None:
    """Why the calibration of ``report`` (a TrustReport or TrackRecord) should not be applied to a
    forecast with ``settings`` (None: it may)."""
    if report.calibration is None:
        return "; ".join(report.notes) or "no calibration was fitted"
    if settings.horizon > report.calibration.horizon:
        return (f"it was fitted for {report.calibration.horizon} bars ahead, the forecast runs "
                f"{settings.horizon}: evaluate again with this horizon")
    changed = [name for name in SAMPLING if report.settings.get(name) != getattr(settings, name)]
    if changed:
        return f"it was fitted with other settings ({', '.join(changed)}): evaluate again with these"
    return None


def run(bars, choice: ModelChoice, settings, plan: Plan = Plan()) -> tuple[Evaluation, bool]:
    """(Evaluation, came_from_cache): a walk-forward of ``choice`` with ``settings`` on the latest
    cut-offs of ``bars``, the baselines on the same cut-offs, and the fan calibration. Raises
    ValueError (too little history), kronos.checkpoints.CheckpointError with messages meant for the user."""
    evaluation, hit = forecasts.results().get(report_key(bars, choice, settings, plan),
                                              lambda: _evaluation(bars, choice, settings, plan))
    reports().put(series_key(bars, choice), evaluation.report)
    return evaluation, hit


def _evaluation(bars, choice: ModelChoice, settings, plan: Plan) -> Evaluation:
    from kronos_studio.evaluation.trust import TrustPlan, evaluate

    maker = forecaster(bars, choice, settings)
    bar = ProgressBar(f"Walk-forward: {maker.name}", unit="cut-off")
    phase = [maker.name]

    def progress(name, i, n):
        if name != phase[0]:
            phase[0] = name
            bar.restart(f"Walk-forward: {name}")
        bar(i, n)

    try:
        report = evaluate(maker, bars, settings, TrustPlan(**dataclasses.asdict(plan)), progress)
        # the mixture's walk-forward kept its members' paths, to rank them beside it
        ranking = ensemble.rank(maker, report) if maker.members else None
    finally:
        bar.done()
    return Evaluation(report, served_note(maker.describe()), ranking)


def badge(bars, choice: ModelChoice, settings, blocked: str | None = None):
    """The track-record badge beside the fan: coverage and skill from the latest evaluation of this
    model on this series, or "not evaluated" with a button that runs one. Returns the fan calibration
    to apply when the user switches it on (None: the raw fan). ``blocked`` says why it cannot apply."""
    with st.container(border=True):
        st.markdown("**Track record**")
        report = latest(bars, choice)
        if report is None:
            ask = st.empty()  # cleared once the evaluation ran: the badge then shows only its result
            with ask.container():
                st.caption(f"Not evaluated: no walk-forward of this model on {bars.series_symbol} {bars.interval} yet.")
                clicked = st.button("Evaluate now", key="badge_evaluate", icon=":material/fact_check:",
                                    help=f"The latest {DEFAULT_CUTOFFS} cut-offs with these settings, at most "
                                         f"{TIME_LIMIT_S} s; the Evaluate page has the details and more options")
            if not clicked:
                return None
            try:
                report = run(bars, choice, settings)[0].report.track_record()
            except TrainingPeriodError as e:
                st.warning(f"**No honest track record here.** {app_message(e)} (on the Evaluate page, where they are "
                           "marked as in-sample).", icon=":material/history_edu:")
                return None
            except Exception as e:  # too little history, model not loadable: a message, not a traceback
                st.error(f"**Could not evaluate.** {app_message(e)}")
                return None
            ask.empty()
        b = report.numbers
        st.metric(f"{BAND_NAME} held", f"{b['coverage']:.0%}", f"nominal {b['nominal']:.0%}", delta_color="off",
                  delta_arrow="off", help="How often the actual close fell inside the band, over the cut-offs")
        if "crps_skill" in b:
            ci = b.get("crps_skill_ci")
            st.metric("CRPS skill", signed_percent(b["crps_skill"]), "vs random walk", delta_color="off", delta_arrow="off",
                      help="1 − CRPS(model) / CRPS(random walk with historical volatility); above 0 is better"
                           + (f". 95% CI {signed_percent(ci[0])} to {signed_percent(ci[1])} over the cut-offs" if ci else ""))
        if "held_out_after" in b:
            st.caption(f"Calibrated band: {b['held_out_after']:.0%} on {b['held_out_cutoffs']} held-out cut-offs "
                       f"(raw {b['held_out_before']:.0%}).")
        st.caption(f"{b['cutoffs']} cut-offs {b['first'][:10]} → {b['last'][:10]}, {b['horizon']} bars ahead.")
        if guard_note(b) and not b.get("in_training_period_included"):  # included: a verdict below says it
            st.caption(guard_note(b) + ".")
        for stale in (STALE_CRPS_NOTE, STALE_BAND_NOTE):
            if stale in report.notes:
                st.caption(stale + ".")
        for verdict in plain_verdicts(b):
            st.warning(verdict, icon=":material/report:")
        why = blocked or mismatch(report, settings)
        on = st.toggle("Calibrated fan", key="calibrated_fan", disabled=why is not None,
                       help=f"Not available: {why}" if why else "Conformal adjustment of every quantile, per "
                            "horizon step, fitted on the evaluated cut-offs")
        return report.calibration if on and why is None else None
