"""The app's risk: the Forecast page's Risk panel (VaR/ES, the volatility forecast and the stylized-facts check of
the forecast on screen, ``desk.risk.read_risk``: the numbers ``kronos risk`` prints for the same paths) and the
Evaluate page's Risk backtest (``Desk.risk_backtest``: what ``kronos risk --backtest`` writes). Controls are
generated from ``RiskSettings``' knobs (``knob_widgets.knob_controls``); the tables are the desk's, in words
(``desk.risk_tables``: the ones ``kronos risk`` prints)."""
from __future__ import annotations

import dataclasses

import streamlit as st

from kronos.errors import UserError
from kronos.lazy import np
from kronos.settings import knobs
from kronos_studio.desk import (
    MIN_TAIL_PATHS,
    STANDARD_MODELS,
    ModelRef,
    RiskBacktestPlan,
    RiskBacktestRequest,
    RiskRequest,
    RiskSettings,
)
from kronos_studio.desk.cells import bar_time_text, p_text
from kronos_studio.desk.risk import beside_offered, risk_paths
from kronos_studio.desk.risk_tables import (
    TEST_LEGEND,
    backtest_tables,
    cell,
    each_test_table,
    served_table,
    var_es_table,
)

from . import forecasts
from .charts import CHART_CONFIG, exceptions_chart, risk_histogram, volatility_chart
from .errors import app_message, control
from .knob_widgets import knob_controls
from .runs import ProgressBar

MORE = "More risk settings"


def settings_or_none(where, prefix: str, more: str | None = MORE) -> RiskSettings | None:
    """The ``RiskSettings`` the controls ask for, or None with the refusal said in ``where``."""
    try:
        return RiskSettings(**knob_controls(where, RiskSettings, prefix, more, handed=False))
    except UserError as e:
        where.error(f"**No risk reading for these settings.** {app_message(e)}", icon=":material/error:")
        return None


def reading(fc, bars, risk: RiskSettings):
    """The desk's risk reading of the forecast on screen (``Desk.risk_reading``), kept by its paths' content, its
    bars and the risk settings (never a reading of other paths)."""
    from . import auth

    return forecasts.desk(computing=False).risk_reading(fc, bars, risk, auth.workspace())[0]


def served(fc, bars, risk: RiskSettings):
    """The reading of the risk model serving this series (its risk champion, else the default), at the fan's
    horizon: ``Desk.served_risk``, the numbers ``kronos risk`` leads with when no model is named."""
    from . import auth

    settings = dataclasses.replace(fc.settings, paths=risk_paths(risk))
    return forecasts.desk().served_risk(RiskRequest(bars, None, settings, risk, auth.workspace()))[0]


def served_block(fc, bars, risk: RiskSettings) -> None:
    """Which risk model serves the series and why, what it has learnt, and its VaR and ES (the fan's paths below
    are the sidebar model's, read as they are)."""
    try:
        s = served(fc, bars, risk)
    except UserError as e:
        st.warning(f"**No risk champion reading.** {app_message(e)}", icon=":material/warning:")
        return
    table = served_table(s)
    st.markdown(f"**{table.said[0]}** — {table.said[1]}")
    for line in table.said[2:]:
        st.caption(line)
    st.dataframe(table.frame, key="risk_served", hide_index=True)


def enough_paths(fc, bars, risk: RiskSettings, request):
    """The forecast to read the risk from: the fan on screen, or, when it has too few paths for the highest level's
    ES and ``request`` (its model and settings, given when the fan is the model's own: not calibrated, adapted or
    conditioned) allows, the same request sampled with enough paths (``paths_needed``; computed on a click, kept in
    the desk's cache, so the panel reads it from then on). (forecast, a caption saying which it is)."""
    need = risk_paths(risk)
    if request is None or fc.paths.shape[0] >= need:
        return fc, ""
    choice, settings = request
    wider = dataclasses.replace(settings, paths=need)
    more = forecasts.cached(bars, choice, wider)
    if more is None and st.button(f"Read the risk from {need:,} paths", key="risk_more_paths",
                                  icon=":material/stacked_line_chart:",
                                  help=f"sample the same model, settings and seed with {need:,} paths (enough for the "
                                       f"{max(risk.levels):g} ES: {MIN_TAIL_PATHS} paths beyond its "
                                       "VaR) and read the risk from them; the fan keeps its own"):
        try:
            more = forecasts.run(bars, choice, wider, label=f"Sampling {need:,} paths for the risk reading")[0]
        except UserError as e:
            st.error(f"**Could not sample {need:,} paths.** {app_message(e)}")
    if more is None:
        return fc, ""
    return more, (f"Read from a sample of {need:,} paths of the same model, settings and seed (the fan above draws "
                  f"{fc.paths.shape[0]}).")


def panel(fc, bars, what: str, request=None) -> None:
    """The Risk panel of forecast ``fc`` (the one on screen, calibrated or not), ``what``: its model and settings
    in words, said above the numbers so nobody reads them as another forecast's; ``request``: (model choice,
    settings) when the fan is the model's own, so that the panel can read the risk from enough paths."""
    st.subheader("Risk")
    risk = settings_or_none(st.container(), "risk_")
    if risk is None:
        return
    served_block(fc, bars, risk)
    fc, which = enough_paths(fc, bars, risk, request)
    try:
        r = reading(fc, bars, risk)
    except UserError as e:  # paths no return can be read from (a close at or below zero): no VaR, said why
        st.error(f"**No risk reading for this forecast.** {app_message(e)}", icon=":material/error:")
        return
    st.caption(f"From the {fc.paths.shape[0]} sample paths of {'the fan above' if not which else 'the same request'} "
               f"({what}): value-at-risk and expected shortfall as a share of the position's value, over the horizon "
               f"of {len(fc.timestamps)} bars ending **{bar_time_text(r.horizon_end)}** (its last bar); the volatility "
               "those paths carry beside GARCH, GJR-GARCH, HAR, EWMA and the history's own; whether their returns look "
               "like the history's." + (f" {which}" if which else ""))
    for n in r.notices:
        (st.warning if n.kind == "warning" else st.caption)(n.worded(control))
    st.dataframe(var_es_table(r.path).frame, key="risk_table", hide_index=True)
    left, right = st.columns(2)
    last = r.path.last_close
    returns = np.asarray(fc.paths)[:, -1, 3] / last - 1
    level = max(risk.levels)
    marks = []
    for position in risk.positions:
        t = r.path.get(position, level)
        sign = -1 if position == "long" else 1  # a long position loses when the return is below -VaR
        marks += [(f"{position} VaR {level:g}", sign * t.var), (f"{position} ES {level:g}", sign * t.es)]
    left.plotly_chart(risk_histogram(returns, marks, title=f"Horizon return of the {len(returns)} paths"),
                      key="risk_histogram", config=CHART_CONFIG)
    right.plotly_chart(volatility_chart(r.volatility.table(), title="Volatility forecast against the history"),
                       key="risk_volatility", config=CHART_CONFIG)
    st.markdown("**Do the paths look like markets?** " + " · ".join(r.verdict))
    with st.expander("Stylized facts, paths against history"):
        st.dataframe(r.stylized.table(), key="risk_stylized")


def backtest_request(bars, choice: ModelRef, settings, risk: RiskSettings, plan):
    """The ``RiskBacktestRequest`` of the section's controls (``plan``: a ``RiskBacktestPlan``) in the session's
    workspace."""
    from . import auth

    return RiskBacktestRequest(bars, choice, settings, risk, plan, auth.workspace())


def backtest_settings(settings, risk: RiskSettings):
    """The sampling settings of the Risk backtest: the sidebar's, with the path count every face's risk request
    samples by default (``desk.risk.risk_paths``: enough for the highest level's ES), not the fan's."""
    return dataclasses.replace(settings, paths=risk_paths(risk))


def run_backtest(bars, choice: ModelRef, settings, risk: RiskSettings, plan):
    """``Desk.risk_backtest`` on the app's desk (its warm models, and its one result cache) under a progress bar:
    each model's cut-offs done of N, with the time left, the asked model first."""
    others = [*plan.beside, *(["the standard risk models"] if plan.baselines else [])]
    bar = ProgressBar(f"Risk backtest of {choice.label}" + (f", then {', '.join(others)}" if others else ""),
                      unit="cut-off")
    phase = [None]

    def progress(key: str, i: int, n: int) -> None:
        if phase[0] is not None and key != phase[0]:  # the next model: its own count and ETA
            bar.restart(f"Risk backtest of {key.replace('_', ' ')}")
        phase[0] = key
        bar(i, n)

    try:
        return forecasts.desk().risk_backtest(backtest_request(bars, choice, settings, risk, plan), progress=progress)
    finally:
        bar.done()


def backtest_section(bars, choice: ModelRef, settings) -> None:
    """The Evaluate page's Risk backtest: its controls, and when run (or stored) the exceptions chart with the
    traffic light, the test table with p-values, the volatility losses with Diebold–Mariano and Mincer–Zarnowitz."""
    from .trust import include_trained_toggle

    st.subheader("Risk backtest")
    st.caption("VaR, ES and variance forecasts of the model at cut-offs one horizon apart (no two horizon returns "
               f"overlap), beside {STANDARD_MODELS} on the same cut-offs: Kupiec, Christoffersen, the Basel traffic light (250 one-step 99% VaRs), "
               "Acerbi–Szekely, QLIKE and MSE, Mincer–Zarnowitz, Diebold–Mariano against GARCH.")
    knobs_of = knobs(RiskBacktestPlan)
    chosen = knob_controls(st.container(), RiskBacktestPlan, "rb_", "More backtest settings", handed=False,
                           only=tuple(n for n in knobs_of if n not in ("beside", "include_trained")))
    beside_knob = knobs_of["beside"][1]  # offered beside the model: the catalog's others (not the model itself)
    beside = st.multiselect(beside_knob.label, [m for m in beside_offered() if m != choice.ref], default=[],
                            key="rb_beside", help=beside_knob.help)
    include = include_trained_toggle("rb_include_trained")
    risk = settings_or_none(st.container(), "rb_")
    if risk is None:
        return
    settings = backtest_settings(settings, risk)
    try:
        plan = RiskBacktestPlan(**chosen, beside=tuple(beside), include_trained=bool(include))
    except ValueError as e:
        st.error(f"**The risk backtest could not run.** {app_message(e)}")
        return
    cutoffs = plan.cutoffs
    clicked = st.button("Run risk backtest", icon=":material/play_arrow:", key="rb_run")
    done = forecasts.desk(computing=False).kept_risk_backtest(backtest_request(bars, choice, settings, risk, plan))
    if clicked and done is None:
        try:
            done = run_backtest(bars, choice, settings, risk, plan)
        except Exception as e:  # too little history, the training-period guard, a model not loadable: a message
            st.error(f"**The risk backtest could not run.** {app_message(e)}")
            return
    if done is None:
        st.info(f"Press **Run risk backtest** to score {choice.label}'s VaR, ES and variance on the latest {cutoffs} "
                f"cut-offs, {settings.paths:,} paths each (enough for the {max(risk.levels):g} ES; the fan keeps the "
                f"sidebar's count), {settings.horizon}-bar horizon.")
        return
    show_backtest(done, risk)


def show_backtest(done, risk: RiskSettings) -> None:
    bt = done.backtest
    said = list(dict.fromkeys(n.worded(control) for n in done.notices))  # one line per distinct notice
    if said:  # a test per model, position and level that could not run says so: many lines, folded
        with st.expander(f"What the backtest says it could not do ({len(said)} notes)", icon=":material/info:"):
            for line in said:
                st.caption(line)
    c = st.columns(2)
    position = c[0].selectbox("Position", list(risk.positions), key="rb_position")
    level = c[1].selectbox("Level", list(risk.levels), key="rb_level")
    summary = bt.summary(level, position)
    if done.served_key is not None:
        served = bt.models[done.served_key].name if done.served_key in bt.models else done.served_key
        st.caption(f"The risk model serving this series is the row {served}: {done.served_why}")
    mine = summary.loc[done.model_key]
    hits = bt.models[done.model_key].frame[f"exception_{position}_{level:g}"]  # the count, whether a test ran or not
    m = st.columns(3)
    m[0].metric(f"Exceptions of {bt.models[done.model_key].name}", f"{int(hits.sum())} of {len(hits)}",
                f"expected {(1 - level) * len(hits):.1f}", delta_color="off", delta_arrow="off")
    m[1].metric("Kupiec p", p_text(mine["kupiec_p"]))
    m[2].metric("Basel traffic light", cell("zone", mine["zone"]), help="Judged on 250 one-step 99% VaRs: green 0–4 exceptions, "
                "yellow 5–9, red 10 or more; none for other levels, horizons or fewer cut-offs")
    st.plotly_chart(exceptions_chart(bt.models[done.model_key].frame, position, level,
                                     title=f"{position} {level:g} VaR against the realized loss"),
                    key="rb_exceptions", config=CHART_CONFIG)
    st.caption(" ".join(TEST_LEGEND))
    summary_table, *rest = backtest_tables(done, [position], [level])
    for table in (summary_table, each_test_table(bt, position, level), *rest):
        st.caption(" ".join(table.said))
        st.dataframe(table.frame, key=f"rb_{table.key}", hide_index=True)
