"""Watch page: the workspace's watches (``kronos watch``, the service's), their last ticks, what each tick did
per series, and the alerts sent or failed. Logic in ``app_support/watch.py``."""
import streamlit as st

from app_support import ledger
from app_support.watch import alerts_table, replay_warnings, ticks_table, watch_caption, watches_table
from kronos_studio.desk.watches import show_watch, toggle_paused

st.title("Watch")
st.caption("A watch runs the learning loop by itself: at each bar close it reads the new bars, scores the forecasts "
           "whose bars arrived, forecasts every series, judges drift and VaR exceptions, retrains where due and "
           "alerts. Start one with `kronos watch` (live, one tick for cron, or a replay of past days) or "
           "`POST /v1/watches` (docs/watch.md); a replay's forecasts are kept apart from the live ones.")
watches = ledger.ledger()
if watches is None:
    st.error(f"**The forecast ledger is unavailable:** {ledger.problem()}. Check KRONOS_STUDIO_DB (a database URL), "
             "or unset it for the local SQLite file.")
    st.stop()
table = watches_table(watches)
if table.empty:
    st.info("No watch yet. `kronos watch` runs one over a folder of bar files or a watchlist CSV: live at each bar "
            "close, one tick for cron, or a replay of past days (docs/watch.md).")
    st.stop()
st.dataframe(table, hide_index=True, width="stretch")
name = st.selectbox("Watch", list(table["watch"]), key="watch_name")
head = st.container()  # drawn above the ticks' count, once the watch is read with them
last = st.number_input("Ticks shown", 1, 1000, 30, key="watch_ticks", help="the newest ticks, newest first")
shown = show_watch(watches, name, ticks=int(last))
with head:
    for warning in replay_warnings(shown.watch):
        st.warning(warning, icon=":material/history:")
    st.caption(watch_caption(shown))
    if not shown.watch.replay and st.button("Resume" if shown.watch.status == "paused" else "Pause",
                                            key="watch_toggle", help="a paused watch does not tick (a tick running "
                                                                     "now finishes)"):
        toggle_paused(watches, shown.watch.id)
        st.rerun()
st.subheader("Ticks")
st.dataframe(ticks_table(shown), hide_index=True, width="stretch",
             column_config={"VaR (long)": st.column_config.NumberColumn(format="percent")})
st.subheader("Alerts")
alerts = alerts_table(shown)
if alerts.empty:
    st.caption("No alert raised: its rules found nothing to say, or it sends none (no webhook, no e-mail).")
else:
    st.dataframe(alerts, hide_index=True, width="stretch")
