"""Compare page: the same data, settings and seed through two or three models, side by side;
in backtest mode each fan is scored against the bars that really followed the cut-off."""
import pandas as pd
import streamlit as st

from app_support import data, forecasts, sidebar
from app_support.metrics import score
from kronos.charts import compare_grid

st.title("Compare models")
inputs = sidebar.current()
bars = data.load(inputs)
if bars is None:
    st.stop()
data.show_staleness(bars)
st.markdown(data.describe(bars))

by_key = {c.key: c for c in inputs.models}
local = [c.key for c in inputs.models if c.kind != "official"]
default = list(dict.fromkeys(([inputs.model.key] if inputs.model else []) + local))[:2]
keys = st.multiselect("Models (two or three)", list(by_key), default=default, max_selections=3,
                      format_func=lambda k: by_key[k].label, key="cmp_models")
mode = st.segmented_control("Mode", ["Forecast", "Backtest"], default="Forecast", key="cmp_mode") or "Forecast"
if len(keys) < 2:
    st.info("Pick two or three models to compare.")
    st.stop()
choices = [by_key[k] for k in keys]
lookback = min(inputs.lookback_for(c) for c in choices)
horizon = inputs.horizon

actual = future = None
if mode == "Backtest":
    days = bars.frame["timestamp"].dt.date
    if len(bars) < horizon + 3:
        st.error(f"**Too little history for a backtest:** {len(bars)} bars, horizon {horizon}. Load more bars "
                 "or shorten the horizon.")
        st.stop()
    last_ok = days.iloc[-horizon - 1]
    cutoff = st.date_input("Cut-off (last bar the models see)", value=last_ok, min_value=days.iloc[1],
                           max_value=last_ok, key="cmp_cutoff",
                           help=f"The {horizon} bars after the cut-off are the actuals the fans are scored on")
    end = int((days <= cutoff).sum())  # bars up to and including the cut-off day
    actual = bars.frame.iloc[end:end + horizon].reset_index(drop=True)
    if len(actual) < horizon:
        st.error(f"**Not enough bars after the cut-off:** {len(actual)} of {horizon}. Pick an earlier date.")
        st.stop()
    bars = bars.replace(frame=bars.frame.iloc[:end].reset_index(drop=True))
    future = pd.DatetimeIndex(actual["timestamp"])
    st.caption(f"Models see {min(lookback, end)} bars up to {cutoff}; scored on the next {horizon} bars "
               f"({actual['timestamp'].iloc[0]:%Y-%m-%d} → {actual['timestamp'].iloc[-1]:%Y-%m-%d}).")

bars = data.quality_gate(bars, lookback, key="cmp_fix")
if bars is None:
    st.stop()
settings = inputs.settings_or_stop(lookback)
st.caption(f"Same for every model: lookback {lookback}, horizon {horizon}, {settings.paths} paths, seed {settings.seed}, "
           f"temperature {settings.temperature}, top-p {settings.top_p}, top-k {settings.top_k}.")

clicked = st.button("Run comparison", type="primary", icon=":material/play_arrow:", key="run_compare")
results, errors, times = {}, {}, {}
for c in choices:
    fc = forecasts.cached(bars, c, settings, future)
    if fc is None and clicked:
        try:
            fc, _ = forecasts.run(bars, c, settings, future, label=f"{c.label}: sampling {settings.paths} paths")
        except Exception as e:  # one model failing (e.g. offline download) leaves the others standing
            errors[c.label] = str(e) if isinstance(e, ValueError | RuntimeError) else f"{type(e).__name__}: {e}"
            continue
    if fc is not None:
        results[c.label] = fc
for name, msg in errors.items():
    st.error(f"**{name} could not run.** {msg}")
if len(results) < len(choices):
    if not errors:
        st.info(f"Press **Run comparison** to run {len(choices)} models on the same bars and seed.")
    if len(results) < 1:
        st.stop()

subtitles = {n: f"{fc.provenance['elapsed_s']:.1f} s on {fc.provenance['device']}" for n, fc in results.items()}
fig = compare_grid(results, "close", actual=actual, subtitles=subtitles)
st.plotly_chart(fig, key="compare_chart", config={"displaylogo": False})

rows = []
for name, fc in results.items():
    row = {"model": name, "time (s)": fc.provenance["elapsed_s"], "revision": fc.provenance.get("predictor_revision")}
    if actual is not None:
        sc = score(fc, actual, "close")
        row |= {"MAE (p50 close)": sc.mae, "MAPE": sc.mape, "p10–p90 coverage": sc.coverage,
                "error at horizon": sc.end_error}
    rows.append(row)
cols = st.columns(len(rows))
for col, row in zip(cols, rows):
    with col.container(border=True):
        st.markdown(f"**{row['model']}**")
        st.metric("Time", f"{row['time (s)']:.1f} s")
        if actual is not None:
            st.metric("MAE of p50 close", f"{row['MAE (p50 close)']:,.2f}", f"{row['MAPE']:.1%} of price",
                      delta_color="off", delta_arrow="off")
            st.metric("p10–p90 coverage", f"{row['p10–p90 coverage']:.0%}", "nominal 80%", delta_color="off",
                      delta_arrow="off")
st.dataframe(pd.DataFrame(rows), hide_index=True, key="compare_table",
             column_config={"MAPE": st.column_config.NumberColumn(format="percent"),
                            "p10–p90 coverage": st.column_config.NumberColumn(format="percent"),
                            "error at horizon": st.column_config.NumberColumn(format="percent")})
