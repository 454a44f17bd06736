"""Track record page: the forecasts kept in the ledger, drawn as the fans they were, with what really
happened on top; every forecast's realized CRPS, coverage and direction; each model's drift; the VaR exceptions
of the forecasts whose horizon has arrived; filters and downloads."""

import streamlit as st

from app_support import ledger, risk_record
from app_support.charts import CHART_CONFIG, track_record_chart
from app_support.drift import drift_chart, series_drift
from app_support.forecasts import desk
from app_support.watch import LIVE_ROWS, replay_labels, rows_of
from kronos.quantiles import BAND_NAME, band_nominal
from kronos_studio.desk import StepsRequest, TrackRecordRequest
from kronos_studio.desk.exports import csv_text, parquet_bytes
from kronos_studio.desk.ledger import counted
from kronos_studio.desk.ledger_tables import SERIES, WORKSPACE, drift_table

ALL = "All series"
MAX_FANS = 50

st.title("Track record")
st.caption("Every forecast the app shows and `kronos forecast` makes is kept in the forecast ledger and scored "
           "once the bars it forecast have arrived: whenever that series' bars are loaded again, or with "
           "`kronos ledger score`. Unlike the walk-forward on the Evaluate page, these are forecasts made before "
           "anyone knew the outcome.")
book = ledger.ledger()
if book is None:
    st.error(f"**The forecast ledger is unavailable:** {ledger.problem()}. Check KRONOS_STUDIO_DB (a database "
             "URL), or unset it for the local SQLite file.")
    st.stop()
replayed = replay_labels(book)
rows_shown = LIVE_ROWS
if replayed:  # a replay's rows (kronos watch --replay-from) are shown apart from the live ones, never mixed
    rows_shown = st.selectbox("Rows", [LIVE_ROWS, *replayed], key="tr_replay",
                              help="the forecasts made live, or those of a replay of past days (docs/watch.md)")
    book, said = rows_of(book, rows_shown)
    for line in said:
        st.warning(line, icon=":material/history:")
info = desk(computing=False).ledger_info(ledger=book)
catalog = info.series
if catalog.empty:
    st.info("No forecast recorded yet. Run one on the **Forecast** page (or `kronos forecast`): it is kept here "
            "and scored as its bars arrive.")
    st.stop()

keys = [tuple(r) for r in catalog[["source", "symbol", "interval"]].itertuples(index=False)]
counts = dict(zip(keys, catalog["predictions"]))
options = [ALL, *keys]
default = ledger.last_series()


def label(key) -> str:
    return key if key == ALL else f"{key[1]} · {key[2]} · {key[0]} ({counted(counts[key], 'forecast')})"


row = st.container()  # the filters' row, drawn above the switch below though asked after it
defaults_only = st.toggle("Only default settings", True, key="tr_defaults_only",
                          help="Leave out forecasts sampled with other settings than the defaults (temperature, "
                               "top-p, top-k, clip, anchor, precision): experiments, not the track record")
c1, c2, c3 = row.columns([3, 4, 1.4])
# one Series choice per rows shown: a kept choice would keep its options' words (a count of the other rows')
series = c1.selectbox("Series", options, index=options.index(default) if default in keys else 1,
                      key="tr_series" if rows_shown == LIVE_ROWS else f"tr_series:{rows_shown}", format_func=label)
asked = {**({} if series == ALL else dict(zip(("source", "symbol", "interval"), series))),
         "member_rows": False, "include_experiments": not defaults_only}  # forecasts as made; an ensemble's members below
done = desk(computing=False).track_record(TrackRecordRequest(**asked), ledger=book)
models = done.offered
chosen = c2.multiselect("Models", models, default=models, key="tr_models", placeholder="Every model")
if chosen and sorted(chosen) != models:
    done = desk(computing=False).track_record(TrackRecordRequest(**asked, models=tuple(chosen)), ledger=book)
table = done.predictions
fans = c3.number_input("Fans drawn", 1, MAX_FANS, 8, key="tr_fans", help="The latest forecasts of the table")
if done.experiments_left_out:
    st.info(f"**{counted(done.experiments_left_out, 'forecast')} with non-default sampling settings left out** of the "
            "table, the fans and every summary below: switch off *Only default settings* to include them.",
            icon=":material/science:")


def steps_of(ids):
    """Every step of the forecasts ``ids`` (the chart's, the download's)."""
    return desk(computing=False).steps(StepsRequest(forecasts=tuple(ids)), ledger=book).steps


status = ledger.status(table)
r = done.pooled.iloc[0] if len(done.pooled) else None  # every chosen model together, pooled over bars
m = st.columns(4)
m[0].metric("Forecasts", f"{len(table):,}", f"{0 if r is None else int(r['scored']):,} scored", delta_color="off",
            delta_arrow="off")
if r is not None:
    m[1].metric(f"{BAND_NAME} coverage", f"{r['coverage']:.0%}", f"nominal {band_nominal():.0%}", delta_color="off", delta_arrow="off",
                help=f"Share of the {int(r['steps']):,} scored bars whose close fell inside the forecast's band")
    m[2].metric("CRPS, % of price", f"{r['crps_pct']:.3f}", help="Mean CRPS of the close over the scored bars, "
                "in % of the last close each forecast saw (lower is better)")
    m[3].metric("Direction hit", f"{r['direction_hit']:.0%}", help="Share of scored bars where the median moved "
                "from the last close the way the close really did (50% is a coin)")
else:
    m[1].caption("Nothing scored yet: the bars loaded since do not continue these forecasts' history (below)."
                 if status.str.startswith("waiting: ").any() else
                 "Nothing scored yet: the bars these forecasts are about have not been loaded since.")
frozen = table["source"].isin(list(ledger.FROZEN_SOURCES))
if frozen.any():
    st.info(f"**{counted(int(frozen.sum()), 'forecast')} of bundled samples can never be scored:** a sample's "
            "bars end where it was packaged (2013) and no new bars arrive. Forecast a market symbol or a file you "
            "will upload again to build a track record; the Evaluate page's walk-forward backtests a sample.",
            icon=":material/block:")
waiting = table[status.str.startswith("waiting: ")]
if len(waiting):
    st.warning(f"**{counted(len(waiting), 'forecast')} could not be scored with the bars loaded last** "
               f"(#{waiting['prediction_id'].iloc[0]}: {waiting['waiting'].iloc[0]}). See the status column.",
               icon=":material/pending:")

if series == ALL:
    st.info("Choose one series to see its past forecasts drawn as fans.")
elif len(table):
    shown = table.head(int(fans))
    fig = track_record_chart(steps_of(shown["prediction_id"].tolist()),
                             title=f"{series[1]} {series[2]}: the latest {counted(len(shown), 'forecast')} and "
                                   "what happened")
    st.plotly_chart(fig, key="tr_chart", config=CHART_CONFIG)

view = table[["prediction_id", "created_at", "symbol", "interval", "model", "calibrated", "last_bar_at", "horizon",
              "paths", "seed", "non_default_settings", "scored_steps", "crps", "crps_pct", "coverage", "direction_hit", "realized_return"]]
view = view.assign(created_at=view["created_at"].dt.tz_localize(None),  # shown as UTC, said in the header
                   last_bar_at=ledger.series_times(table, "last_bar_at"),  # the series' clock, as on the chart
                   status=status)
view = view[[*view.columns[:5], "status", *[c for c in view.columns[5:] if c != "status"]]]  # status beside the model
pct, when = st.column_config.NumberColumn, st.column_config.DatetimeColumn
st.dataframe(view, hide_index=True, key="tr_table", column_config={
    "prediction_id": pct("id"), "created_at": when("made (UTC)", format="YYYY-MM-DD HH:mm"),
    "last_bar_at": when("last bar seen (series' time)", format=ledger.time_format(table)),
    "scored_steps": pct("bars scored"),
    "non_default_settings": st.column_config.TextColumn("settings unlike the defaults",
                                                        help="Sampling settings other than the defaults: an experiment"),
    "status": st.column_config.TextColumn("status", width="medium",
                                          help="Scored; waiting, and why the bars loaded last could not score it; "
                                               "or never (a bundled sample gets no new bars)"),
    "crps": pct("CRPS", format="%.4g"), "crps_pct": pct("CRPS, % of price", format="%.3f"),
    "coverage": pct(f"{BAND_NAME} coverage", format="percent"), "direction_hit": pct("direction hit", format="percent"),
    "realized_return": pct("return to last scored bar", format="percent")})

members = done.members
if len(members):
    st.markdown("**Ensemble members, each scored on its own paths** — the same forecasts and bars as the "
                "ensemble's above; `kronos train ensemble` learns the weights from these (from the ledger)")
    st.dataframe(members, hide_index=True, key="tr_members", column_config={
        "weight": pct("mean weight", format="percent", help="The meta-learner's mean weight for the member"),
        "forecasts": pct("forecasts"), "scored": pct("forecasts scored"), "steps": pct("bars scored"),
        "coverage": pct(f"{BAND_NAME} coverage", format="percent"), "crps_pct": pct("CRPS, % of price", format="%.3f"),
        "direction_hit": pct("direction hit", format="percent")})

st.subheader("Exceptions")
risk_record.section(book, None if series == ALL else series, chosen or models, experiments=not defaults_only)

st.subheader("Drift")
if series == ALL:
    st.caption("Choose one series to see whether each of its models still holds its calibration and its skill.")
elif len(table):
    drifted = series_drift(book, series, table["model"].unique(), experiments=not defaults_only)
    report = drifted.drifts
    worded = drift_table(drifted)  # as `kronos ledger drift` prints it
    st.caption(*worded.said)
    st.dataframe(worded.frame.drop(columns=[WORKSPACE, SERIES], errors="ignore"), hide_index=True, key="tr_drift",
                 column_config={"why": st.column_config.TextColumn(width="large")})
    judged = [d for d in report if d.rolling["coverage"].notna().any()]
    if judged:
        pick = (st.selectbox("Drift of", [d.model for d in judged], key="tr_drift_model") if len(judged) > 1
                else judged[0].model)
        st.plotly_chart(drift_chart(next(d for d in judged if d.model == pick), drifted.thresholds),
                        key="tr_drift_chart", config=CHART_CONFIG)


name = "all" if series == ALL else f"{series[1]}_{series[2]}".replace("/", "-")
d = st.columns(3)
d[0].download_button("Table CSV", lambda: csv_text(view), f"kronos_track_record_{name}.csv", "text/csv",
                     on_click="ignore", icon=":material/download:")
d[1].download_button("Every step (Parquet)", lambda: parquet_bytes(steps_of(table["prediction_id"].tolist())), f"kronos_track_record_{name}_steps.parquet",
                     "application/octet-stream", on_click="ignore", icon=":material/download:",
                     help="One row per forecast and step: p10/p50/p90, the actual bar, CRPS, coverage, PIT "
                          "(as `kronos ledger export`)")
st.caption(f"Ledger: {info.where}")
