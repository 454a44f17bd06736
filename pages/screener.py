"""Screener page: a watchlist forecast in one batch, a sortable, filterable table with a small fan per row,
downloads, and a row opened on the Forecast page with the same settings."""
import math

import streamlit as st

from app_support import rank_skill, screener, sidebar, source_inputs
from app_support.errors import app_message
from kronos_studio.desk import WatchlistError

st.title("Screener")
st.caption("Forecast every series of a watchlist with the sidebar's **model and sampling settings** (its data "
           "choice is for the other pages), then sort, filter and open a series on the Forecast page.")
inputs = sidebar.current()
if inputs.model is None:
    st.info("Choose a model in the sidebar.")
    st.stop()
if not inputs.model.screens:
    st.info("The screener forecasts with one Kronos model: switch off **Ensemble** in the sidebar (the ensemble "
            "runs series by series on the Forecast page).")
    st.stop()
watchlist = screener.watchlist_inputs()
with st.expander("Risk columns: VaR, ES and volatility", icon=":material/shield:"):
    st.caption("Read from each series' sample paths at the horizon, as the Forecast page's Risk panel reads them. "
               "A 99% ES needs about 2,000 paths to rest on 20 beyond the VaR: raise **Sample paths** in the sidebar.")
    risk = screener.risk_settings(st.container())
settings = screener.run_settings(inputs, risk or screener.BatchSettings.risk)
c1, c2 = st.columns([3, 1])
fixes = c1.multiselect("Accept the data-quality gate's fixes for every series", list(screener.FIXES),
                       format_func=screener.FIXES.get, key="scr_fixes",
                       help="A series the gate refuses (e.g. unsorted rows) is forecast once its fix is accepted; "
                            "its row says which fix would clear it")
calendar = c2.selectbox("Calendar of uploaded files", source_inputs.CALENDARS, key="scr_calendar",
                        accept_new_options=True, format_func=lambda c: c or "infer", disabled=not watchlist.files,
                        help="Trading calendar for gaps and future bars; 'infer' reads it from each file's bar times")

st.caption(f"Settings (sidebar): {settings.describe()}")
if st.button("Run screener", type="primary", icon=":material/play_arrow:", key="run_screener", disabled=risk is None,
             help="Fix the risk columns' settings first" if risk is None else None):
    from kronos.checkpoints import CheckpointError

    try:
        screener.run(watchlist.entries(), settings, watchlist.label, tuple(fixes),
                     (calendar or None) if watchlist.files else None)
    except WatchlistError as e:
        st.error(f"**Check the watchlist:** {app_message(e)}")
    except CheckpointError as e:
        st.error(f"**The model could not be loaded.** {app_message(e)}")
    except ValueError as e:
        st.error(f"**The screener could not run:** {app_message(e)}. Check the sampling settings in the sidebar and the options above.")
    except Exception as e:  # anything unforeseen: a message, not a traceback
        st.error(f"**The screener could not run** ({app_message(e)}). Try again, or a smaller watchlist.")

run = screener.latest()
if run is None:
    st.info("Press **Run screener** to forecast every series of the watchlist.")
    rank_skill.section(watchlist, settings, tuple(fixes), (calendar or None) if watchlist.files else None)
    st.stop()

rows = run.rows
ok = rows["status"] == "ok"
m = st.columns(4)
m[0].metric("Series", len(rows), run.watchlist, delta_color="off", delta_arrow="off")
m[1].metric("Forecast", int(ok.sum()))
m[2].metric("Without a forecast", int((~ok).sum()))
m[3].metric("Speed", "—" if math.isnan(run.series_per_s) else f"{run.series_per_s:.1f} series/s",
            f"{run.elapsed_s:.1f} s in all", delta_color="off", delta_arrow="off")
changed = screener.settings_changed(run, inputs, risk)
if changed:
    st.warning(f"These results were made with {run.settings.describe()}; the sidebar has changed since "
               f"({'; '.join(changed)}). **Run screener** again to use the new settings; **Open on Forecast** "
               "opens a row with the settings it was made with.", icon=":material/history:")

failed = rows[~ok]
ok_only, event, shown = True, None, rows.iloc[:0]
if ok.any():
    c1, c2, c3 = st.columns([2, 2, 1.3])
    p_up_min = c1.slider("P(up) at least", 0, 100, 0, 5, format="%d%%", key="scr_p_up")
    top = float(max(1, math.ceil(float(rows.loc[ok, "band_width"].max()) * 100)))
    band_max = c2.slider("Band width at most", 0.0, top, top, 0.5, format="%.1f%%", key=f"scr_band_{top:g}")
    ok_only = c3.toggle("Forecast rows only", True, key="scr_ok_only",
                        help="Off: rows without a forecast are listed in the table with their reason")
    shown = screener.filter_rows(rows, p_up_min / 100, band_max / 100, ok_only)
    view = screener.table(shown, run.sparks, run.risk_columns)
    event = st.dataframe(view, key=screener.table_key(shown), hide_index=True, on_select="rerun",
                         selection_mode="single-row", row_height=screener.ROW_HEIGHT,
                         height=screener.table_height(len(view)), column_config=screener.column_config(view, run.risk_columns))
    st.caption(f"{len(shown)} of {len(rows)} rows shown. Click a header to sort. Statistics of the "
               f"{run.settings.forecast.paths} sample paths at the horizon ({run.settings.forecast.horizon} bars: "
               "**Horizon** says it in time, by each row's bar interval), relative to the last close: **P(up)** = "
               "P(close at horizon > last close); **band width** = (p90 − p10 of that close) / last close; **expected max drawdown** = mean over paths of the largest close-to-close fall from a running "
               "peak; **P(touch ±5%)** = share of paths whose intrabar low (high) reaches 5% below (above) the last "
               "close; **VaR 99%** = the loss (share of a long or short position's value) that 1% of the paths exceed, "
               "**ES 99%** = the mean loss of those paths; **volatility** = the paths' close-to-close realized "
               "volatility.")
    for flag in screener.risk_flags(run):
        st.warning(flag, icon=":material/warning:")
else:
    st.error("**No series could be forecast.** Each one's reason is listed below: fix the files or tickers (or the "
             "network connection) and run again.")
if ok_only and len(failed):
    st.markdown(f"**{len(failed)} series without a forecast**")
    st.dataframe(failed[["series", "status", "origin"]], key="screener_failed", hide_index=True,
                 column_config=screener.FAILED_COLUMNS)

if ok.any():
    picked = event.selection.rows if event is not None else []
    series = str(shown["series"].iloc[picked[0]]) if picked and picked[0] < len(shown) else None
    handed, why = screener.forecast_request(run, series) if series is not None else (None, None)
    c1, c2 = st.columns([1, 3], vertical_alignment="center")
    if c1.button("Open on Forecast", icon=":material/open_in_new:", key="screener_open", disabled=handed is None,
                 on_click=screener.open_on_forecast, args=(series,)):
        st.switch_page("pages/forecast.py")
    if series is None:
        c2.caption("Select a row (the box at its left) to open its series on the Forecast page with this run's "
                   "model and settings: the same fan.")
    elif handed is None:
        c2.caption(f"**{series}** cannot be opened there: {why}.")
    else:
        c2.caption(f"Opens **{series}** on the Forecast page with {run.settings.describe()}.")

st.subheader("Downloads")
d = st.columns(4)
for col, (name, (data, filename, mime)) in zip(d, screener.downloads(run).items()):
    col.download_button(name, data, filename, mime, on_click="ignore", icon=":material/download:")

rank_skill.section(watchlist, settings, tuple(fixes), (calendar or None) if watchlist.files else None)
