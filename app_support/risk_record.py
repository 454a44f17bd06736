"""The Track record page's Exceptions section: the recorded forecasts judged as VaR forecasts once their horizon's
bar has arrived (``Desk.risk_record``), a table per series and model and, for one series, the realized losses
against the VaR with the exceptions marked (``charts.exceptions_chart``, the risk backtest's chart). One series
at a time, as the page's Drift: 10,000 recorded forecasts take about 4 s to judge (docs/risk.md)."""
from __future__ import annotations

import streamlit as st

from kronos_studio.desk import Desk, RiskSettings
from kronos_studio.desk.ledger_tables import SERIES, WORKSPACE, exceptions_table

from .charts import CHART_CONFIG, exceptions_chart
from .errors import app_message

EXPLAINED = ("Each recorded forecast's value-at-risk is read from the paths it was sampled with (its return over "
             "the whole horizon, for a long and a short position); once its horizon's last bar has arrived, it is "
             "an **exception** when the realized loss went beyond the VaR. A good VaR at 0.99 has exceptions on "
             "about 1 forecast in 100. Forecasts whose horizons overlap are not independent: the tests count only "
             "forecasts that each start at or after the previous one's horizon end; the others are *left out for "
             "overlap*. Kupiec tests the count, Christoffersen whether exceptions cluster (docs/risk.md).")


def section(book, series, models: list[str], experiments: bool) -> None:
    """The Exceptions section of the forecasts of ``series`` ((source, symbol, interval); None: every series, only
    said) by ``models``, those at non-default sampling settings only with ``experiments``."""
    if series is None:  # every forecast of the ledger read from its paths: seconds on a large ledger, per rerun
        st.caption("Choose one series to see its forecasts' VaR exceptions (`kronos ledger exceptions` lists every "
                   "series').")
        return
    filters = dict(zip(("source", "symbol", "interval"), series))
    try:
        done = Desk.risk_record(book, RiskSettings(), experiments=experiments, models=models, **filters)
    except Exception as e:  # the ledger failing here costs the section, not the page
        st.warning(f"The exceptions could not be read from the ledger ({app_message(e)}).")
        return
    st.caption(EXPLAINED)
    record = done.record
    if record.forecasts.empty:
        st.info("No forecast is scored at its horizon's last bar yet: exceptions are judged once it has arrived.")
        return
    worded = exceptions_table(done)  # the tests in words (``kronos ledger exceptions`` prints them)
    st.dataframe(worded.frame.drop(columns=[WORKSPACE, SERIES], errors="ignore"), hide_index=True, key="tr_exceptions", column_config={
        "expected": st.column_config.TextColumn(help="Forecasts × (1 − level)"),
        "left out for overlap": st.column_config.TextColumn(help="Scored forecasts whose horizon overlaps one counted")})
    for line in worded.said:
        st.caption(line)
    shown = record.forecasts[record.forecasts["used"]]
    c = st.columns(3)
    model = c[0].selectbox("Exceptions of", sorted(shown["model"].unique()), key="tr_exc_model")
    position = c[1].selectbox("Position", list(record.settings.positions), key="tr_exc_position")
    level = c[2].selectbox("VaR level", list(record.settings.levels), index=len(record.settings.levels) - 1,
                           key="tr_exc_level")
    mine = shown[shown["model"] == model].sort_values("last_bar_at")
    left_out = int(((record.forecasts["model"] == model) & ~record.forecasts["used"]).sum())
    st.plotly_chart(exceptions_chart(mine.assign(cutoff_time=mine["last_bar_at"]), position, level,
                                     title=f"{series[1]} {series[2]} · {model}<br>{position} loss over each "
                                           f"forecast's horizon against its VaR {level:g}<br>{len(mine)} forecasts, "
                                           f"{left_out} left out for overlap"),
                    key="tr_exc_chart", config=CHART_CONFIG)
