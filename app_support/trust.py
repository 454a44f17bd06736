"""The trust panel in the app: walk-forward reports through the front desk (``Desk.trust``, kept in the app's result
cache), the latest report of each model on each series (for the badge beside the fan, kept in the forecast ledger),
and runs with a progress bar."""
from __future__ import annotations

import streamlit as st

from kronos.errors import UserError
from kronos.quantiles import BAND_NAME
from kronos_studio.desk import ModelRef, TrainingPeriodError, Trusted, TrustPlan, TrustRequest, TrustTrackRecord
from kronos_studio.desk.metrics import signed_percent
from kronos_studio.desk.trust import LatestRecords, mismatch, series_key

from . import auth, forecasts
from . import ledger as ledger_ui
from .errors import CONTROLS, app_message
from .models import load_model, wait_for_torch
from .runs import ProgressBar

COVERAGE_TOLERANCE = 0.10  # coverage this far from nominal is called too narrow / too wide


INCLUDE_TRAINED_LABEL = CONTROLS["include_training_period"]


def include_trained_toggle(key: str) -> bool:
    """The switch that lets a walk-forward score cut-offs inside the model's training period (off: left out)."""
    return st.toggle(INCLUDE_TRAINED_LABEL, False, key=key,
                     help="A forecast of bars the model trained or validated on scores memory, not forecasting: "
                          "such cut-offs are left out of every score unless switched on here (and then flagged)")


def in_sample_banner(guard: dict, cutoffs: int) -> None:
    """The red banner over scores that include cut-offs inside the model's training period (nothing otherwise)."""
    if guard.get("in_training_period") and guard.get("in_training_period_included"):
        st.error(f"**In-sample:** {guard['in_training_period']} of these {cutoffs} cut-offs forecast bars inside the "
                 f"model's training period ({guard['training_period']}). Their scores partly measure memory, not "
                 "forecasting.", icon=":material/history_edu:")


@st.cache_resource(show_spinner=False)
def reports() -> LatestRecords:
    """The latest track record of each model on each series, kept in the app's ledger."""
    return LatestRecords(ledger_ui.ledger)


def request(bars, choice: ModelRef, settings, plan: TrustPlan = TrustPlan()) -> TrustRequest:
    """The desk's request of a report of ``choice`` on gated ``bars``, in the session's workspace."""
    return TrustRequest(bars, settings, choice, plan, auth.workspace())


def kept(bars, choice: ModelRef, settings, plan: TrustPlan) -> Trusted | None:
    """The kept report of this request, None when it was never run (or what serves ``champion`` cannot be read)."""
    try:
        return forecasts.desk(computing=False).kept_trust(request(bars, choice, settings, plan))
    except UserError:  # the run says why
        return None


def latest(bars, choice: ModelRef):
    return reports().latest(auth.workspace(), series_key(bars, choice))


def run(bars, choice: ModelRef, settings, plan: TrustPlan = TrustPlan()) -> Trusted:
    """``Desk.trust`` of ``choice`` with ``settings`` on ``plan``'s cut-offs of ``bars`` under a progress bar (a
    phase per model walked: the model, then each baseline), kept for every session; the latest report of this model
    on this series kept for the badge. Raises ``UserError``s and ``CheckpointError`` with messages meant for the
    user."""
    if choice.per_series:
        wait_for_torch()
    else:
        load_model(choice)  # with its download's progress: the desk then finds it loaded
    bar = ProgressBar(f"Walk-forward: {choice.label}", unit="cut-off")
    phase = [None]

    def progress(name, i, n):
        if name != phase[0]:
            if phase[0] is not None:
                bar.restart(f"Walk-forward: {name}")
            phase[0] = name
        bar(i, n)

    try:
        done = forecasts.desk().trust(request(bars, choice, settings, plan), progress=progress)
    finally:
        bar.done()
    reports().put(auth.workspace(), series_key(bars, choice), done.report)
    return done


def plain_verdicts(record: TrustTrackRecord) -> list[str]:
    """What a track record says in plain words when it is poor: a band that holds the actual far less (or more)
    often than nominal, a model worse than the plain random walk or not distinguishable from it, scores that include
    cut-offs inside the model's training period. Empty when neither coverage nor skill is a concern."""
    numbers, out = record.numbers, []
    coverage, nominal = numbers["coverage"], numbers["nominal"]
    if coverage < nominal - COVERAGE_TOLERANCE:
        out.append(f"The band is too narrow: it held the actual {coverage:.0%} of the time, not {nominal:.0%}. "
                   "Read the fan as overconfident, or switch on the calibrated fan.")
    elif coverage > nominal + COVERAGE_TOLERANCE:
        out.append(f"The band is too wide: it held the actual {coverage:.0%} of the time, not {nominal:.0%}.")
    if numbers.get("in_training_period_included") and record.guard_line():
        out.append(record.guard_line() + ".")
    if "crps_skill" in numbers:
        skill, (lo, hi) = numbers["crps_skill"], numbers.get("crps_skill_ci", (numbers["crps_skill"],) * 2)
        if hi < 0:
            out.append(f"Worse than a plain random walk on these cut-offs (CRPS skill {signed_percent(skill)}, 95% "
                       f"interval {signed_percent(lo)} to {signed_percent(hi)}).")
        elif lo <= 0:
            out.append(f"Not distinguishable from a plain random walk on these cut-offs (CRPS skill "
                       f"{signed_percent(skill)}, 95% interval {signed_percent(lo)} to {signed_percent(hi)}).")
    return out


def badge(bars, choice: ModelRef, settings, blocked: str | None = None):
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
                                    help=f"The latest {TrustPlan().n_cutoffs} cut-offs with these settings; the "
                                         "Evaluate page has the details and more options")
            if not clicked:
                return None
            try:
                report = run(bars, choice, settings).report.track_record()
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
        if report.guard_line() and not b.get("in_training_period_included"):  # included: a verdict below says it
            st.caption(report.guard_line() + ".")
        for stale in report.stale_notes():
            st.caption(stale + ".")
        for verdict in plain_verdicts(report):
            st.warning(verdict, icon=":material/report:")
        why = blocked or mismatch(report, settings)
        on = st.toggle("Calibrated fan", key="calibrated_fan", disabled=why is not None,
                       help=f"Not available: {why}" if why else "Conformal adjustment of every quantile, per "
                            "horizon step, fitted on the evaluated cut-offs")
        return report.calibration if on and why is None else None
