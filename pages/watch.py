"""Watch page: the workspace's watches (``kronos watch``, the service's), their last ticks, what each tick did
per series, and the alerts sent or failed. Logic in ``app_support/watch.py``."""
import streamlit as st

from app_support import ledger
from app_support.watch import (
    alerts_table,
    replay_warnings,
    ticks_table,
    toggled,
    watch_book,
    watch_caption,
    watches_table,
)

st.title("Watch")
st.caption("A watch runs the learning loop by itself: at each bar close it reads the new bars, scores the forecasts "
           "whose bars arrived, forecasts every series, judges drift and VaR exceptions, retrains where due and "
           "alerts. Start one with `kronos watch` (live, one tick for cron, or a replay of past days) or "
           "`POST /v1/watches` (docs/watch.md); a replay's forecasts are kept apart from the live ones.")
watches = watch_book()
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
found = {w.name: w for w in watches.list()}
name = st.selectbox("Watch", list(found), key="watch_name")
watch = found[name]
for warning in replay_warnings(watch):
    st.warning(warning, icon=":material/history:")
st.caption(watch_caption(watch, watches))
if not watch.replay and st.button("Resume" if watch.status == "paused" else "Pause", key="watch_toggle",
                                  help="a paused watch does not tick (a tick running now finishes)"):
    toggled(watches, watch)
    st.rerun()
last = st.number_input("Ticks shown", 1, 1000, 30, key="watch_ticks", help="the newest ticks, newest first")
st.subheader("Ticks")
ticks = ticks_table(watches, watch, int(last))
st.dataframe(ticks, hide_index=True, width="stretch",
             column_config={"VaR (long)": st.column_config.NumberColumn(format="percent")})
st.subheader("Alerts")
alerts = alerts_table(watches, watch)
if alerts.empty:
    st.caption("No alert raised: its rules found nothing to say, or it sends none (no webhook, no e-mail).")
else:
    st.dataframe(alerts, hide_index=True, width="stretch")
