"""Compare page: the same data, settings and seed through two or three models, side by side or overlaid,
with each model's horizon numbers; in backtest mode each fan is scored (kronos_studio.evaluation) on the
bars that really followed the cut-off, beside the random walk, with a one-line verdict."""
import pandas as pd
import streamlit as st

from app_support import compare, conditioned, data, ledger
from app_support.charts import CHART_CONFIG, compare_grid, overlay_chart, quote_currency
from app_support.errors import app_message, app_notice
from app_support.knob_widgets import knob_controls
from app_support.models import served_note
from app_support.page import open_page
from kronos.errors import UserError
from kronos.quantiles import BAND_NAME
from kronos_studio.desk import ComparePlan, metrics
from kronos_studio.desk.metrics import signed_percent
from kronos_studio.desk.reading import ForecastReading

st.title("Compare models")
start = open_page(need_model=False, gate_key=None, settings=False)  # gated below, after a backtest cut
inputs, bars = start.inputs, start.bars

by_key = {c.key: c for c in inputs.models}
local = [c.key for c in inputs.models if not c.downloads]
default = list(dict.fromkeys(([inputs.model.key] if inputs.model else []) + local))[:2]
WITH_WITHOUT = "With / without covariates"  # the sidebar's "Condition on", Chronos-2 with it and alone
modes = ["Forecast", "Backtest"] + ([WITH_WITHOUT] if inputs.covariates else [])
mode = st.segmented_control("Mode", modes, default="Forecast", key="cmp_mode") or "Forecast"
# With / without compares its own two models (Chronos-2 with the covariates and alone): the picker is kept, greyed
keys = st.multiselect("Models (two or three)", list(by_key), default=default, max_selections=3,
                      format_func=lambda k: by_key[k].label, key="cmp_models", disabled=mode == WITH_WITHOUT,
                      help=("With / without covariates compares Chronos-2 with the sidebar's covariates and alone, "
                            "whatever is picked here") if mode == WITH_WITHOUT else None)
if mode == WITH_WITHOUT:
    bars = data.quality_gate(bars, inputs.lookback, key="cmp_fix")
    if bars is None:
        st.stop()
    settings = inputs.settings_or_stop(inputs.lookback)
    clicked = st.button("Run with and without", type="primary", icon=":material/play_arrow:", key="run_with_without")
    results = conditioned.with_and_without(bars, settings, inputs.covariates, clicked)
    if len(results) < 2:
        st.info(f"Press **Run with and without** to forecast with Chronos-2 conditioned on "
                f"{', '.join(map(conditioned.short_name, inputs.covariates))} and alone: same bars, settings and "
                f"seed {settings.seed}.")
        st.stop()
    st.plotly_chart(compare_grid(results, "close"), key="compare_with_without", config=CHART_CONFIG)
    cols = st.columns(2)
    for col, (name, fc) in zip(cols, results.items()):
        s = metrics.summarize(fc, "close")
        with col.container(border=True):
            st.markdown(f"**{name}**")
            a, b = st.columns(2)
            a.metric("Expected return at horizon", f"{s.expected_return:+.2%}")
            b.metric("P(close ends above last close)", f"{s.prob_up:.0%}")
            st.caption(conditioned.caption(fc))
    st.caption(f"Same bars, settings and seed {settings.seed}; {conditioned.measured_words()}.")
    st.stop()
if len(keys) < 2:
    st.info("Pick two or three models to compare.")
    st.stop()
choices = [by_key[k] for k in keys]
lookback = min(inputs.lookback_for(c) for c in choices)
horizon = inputs.horizon

actual = None
if mode == "Backtest":
    days = bars.frame["timestamp"].dt.date
    if len(bars) < horizon + 3:
        st.error(f"**Too little history for a backtest:** {len(bars)} bars, horizon {horizon}. Load more bars "
                 "or shorten the horizon.")
        st.stop()
    last_ok = days.iloc[-horizon - 1]
    c1, c2 = st.columns([3, 2])
    cutoff = c1.date_input("Cut-off (last bar the models see)", value=last_ok, min_value=days.iloc[1],
                           max_value=last_ok, key="cmp_cutoff",
                           help=f"The {horizon} bars after the cut-off are the actuals the fans are scored on")
    plan = ComparePlan(**knob_controls(c2, ComparePlan, "cmp_", handed=False))

bars = data.quality_gate(bars, lookback, key="cmp_fix")
if bars is None:
    st.stop()
settings = inputs.settings_or_stop(lookback)
if mode == "Backtest":
    asked = compare.request(bars, choices, settings, cutoff, plan)
    try:
        seen = compare.window(asked)
    except UserError as e:  # fewer bars after the cut-off than the horizon
        st.error(f"**The backtest cannot run on this cut-off.** {app_message(e)}")
        st.stop()
    bars, actual = seen.history, seen.actual
    st.caption(f"Models see {min(lookback, len(bars))} bars up to {cutoff}; scored on the next {horizon} bars "
               f"({actual['timestamp'].iloc[0]:%Y-%m-%d} → {actual['timestamp'].iloc[-1]:%Y-%m-%d}).")
st.caption(f"Same for every model: lookback {lookback}, horizon {horizon}, {settings.paths} paths, "
           f"seed {settings.seed}, temperature {settings.temperature}, top-p {settings.top_p}, top-k {settings.top_k}.")

clicked = st.button("Run comparison", type="primary", icon=":material/play_arrow:", key="run_compare")
backtest = None
if actual is None:
    results, errors = compare.run_forecasts(bars, choices, settings, clicked)
    for fc in results.values():  # live forecasts go to the ledger (a backtest is scored right here instead)
        ledger.record(fc, bars)
else:
    backtest = compare.stored_backtest(asked)
    if backtest is None and clicked:
        try:
            backtest = compare.run_backtest(asked)
        except Exception as e:  # too little history for a full lookback, bad bars: a message
            st.error(f"**The backtest could not run.** {app_message(e)}")
            st.stop()
    results, errors = (backtest.shown, {n: app_message(e) for n, e in backtest.errors.items()}) if backtest else ({}, {})
    for notice in (backtest.notices if backtest else []):
        st.warning(f"**In-sample:** {app_notice(notice)}." if "in_training_period" in notice.values
                   else app_notice(notice), icon=":material/history_edu:")
for name, msg in errors.items():
    st.error(f"**{name} could not run.** {msg}")
if len(results) < len(choices):
    if not errors:
        what = f"on this cut-off and up to {plan.n_cutoffs - 1} before it" if actual is not None else "on the same bars"
        st.info(f"Press **Run comparison** to run {len(choices)} models {what}, same settings and seed.")
    if len(results) < 1:
        st.stop()

history_close = bars.frame["close"].to_numpy()
for name, fc in results.items():
    for problem in ForecastReading(fc).problems(history_close):
        st.error(f"**{name}: this fan is not fit to read ({problem.code}).** {problem.message}")

if backtest is not None and len(backtest.results) >= 2:
    v = metrics.verdict(backtest.results, baseline=backtest.baseline)
    st.info(f"**Verdict.** {v.text}", icon=":material/balance:")

views = ["Side by side", "Overlay"]
view = st.segmented_control("View", views, default=views[0], key="cmp_view") or views[0]
if view == "Overlay":
    currency = quote_currency(bars.symbol, bars.source, bars.origin)
    fig = overlay_chart(results, "close", actual=actual, currency=currency)
else:
    subtitles = {n: f"{fc.provenance['elapsed_s']:.1f} s on {fc.provenance['device']}" for n, fc in results.items()}
    fig = compare_grid(results, "close", actual=actual, subtitles=subtitles)
st.plotly_chart(fig, key=f"compare_chart_{view}", config=CHART_CONFIG)

rows = []
for name, fc in results.items():
    row = {"model": name}  # the scores first: in backtest mode they are what the table is for
    if backtest is not None:
        row |= metrics.cutoff_scores(backtest.results[name], backtest.baseline)
    rows.append(row | metrics.horizon_numbers(metrics.summarize(fc, "close"))
                | {"time (s)": fc.provenance["elapsed_s"], "revision": fc.provenance.get("predictor_revision")})
cols = st.columns(len(rows))
for col, row in zip(cols, rows):
    with col.container(border=True):
        st.markdown(f"**{row['model']}**")
        a, b = st.columns(2)
        a.metric("Expected return at horizon", f"{row['expected return']:+.2%}")
        b.metric("P(close ends above last close)", f"{row['P(up)']:.0%}")
        a.metric(f"Band width {BAND_NAME} at horizon", f"{row[metrics.BAND_WIDTH]:.1%}",
                 help="Relative to the last close")
        b.metric("First-step gap", f"{row['first-step gap']:+.2%}",
                 help="Median open of the first forecast bar vs the last close")
        if backtest is not None:
            a.metric("CRPS", f"{row['CRPS']:,.3g}", f"{row['CRPS, % of price']:.2f}% of price", delta_color="off",
                     delta_arrow="off", help="Mean CRPS over the horizon on this cut-off (lower is better)")
            b.metric(metrics.COVERAGE, f"{row[metrics.COVERAGE]:.0%}", "nominal 80%", delta_color="off",
                     delta_arrow="off")
            a.metric("CRPS skill vs random walk", signed_percent(row["CRPS skill vs random walk"]), "this cut-off",
                     delta_color="off", delta_arrow="off",
                     help="1 − CRPS(model) / CRPS(random walk); above 0 is better")
        st.caption(f"Sampled in {row['time (s)']:.2f} s")
        if served_note(results[row["model"]].provenance):  # which adapter answered for ``champion``
            st.caption(served_note(results[row["model"]].provenance))
if backtest is not None:  # the baseline, on the same cut-off and seed, as a row of its own
    rw = backtest.baseline
    numbers = metrics.horizon_numbers(metrics.summarize_paths(rw.paths[0], bars.frame, "close"))
    # The reference scores 0 against itself; its time is its whole walk-forward; it has no weights revision.
    rows.append({"model": rw.name, **metrics.cutoff_scores(rw, rw), **numbers,
                 "time (s)": float(rw.meta.get("elapsed_s", float("nan"))), "revision": "—"})
pct = st.column_config.NumberColumn
percent = {c: pct(c, format="percent") for c in ("expected return", "P(up)", metrics.BAND_WIDTH, "first-step gap",
                                                 metrics.COVERAGE, "CRPS skill vs random walk", "error at horizon")}
st.dataframe(pd.DataFrame(rows), hide_index=True, key="compare_table",
             column_config=percent | {"CRPS": pct("CRPS", format="%.4g"),
                                      "CRPS, % of price": pct("CRPS, % of price", format="%.3f")})

if backtest is not None and len(backtest.cutoffs) >= 2:
    times = backtest.baseline.cutoff_times
    st.markdown(f"**Across {len(backtest.cutoffs)} cut-offs** one horizon apart, {min(times):%Y-%m-%d} → "
                f"{max(times):%Y-%m-%d}" + (f" (only {len(backtest.cutoffs)} of {plan.n_cutoffs} fit the history)"
                                            if len(backtest.cutoffs) < plan.n_cutoffs else ""))
    across = [{"model": n, **metrics.across_cutoffs(r, backtest.baseline)} for n, r in backtest.results.items()]
    st.dataframe(pd.DataFrame(across), hide_index=True, key="compare_across",
                 column_config={c: pct(c, format="percent") for c in (metrics.COVERAGE, "CRPS skill vs random walk",
                                                                      "95% CI low", "95% CI high")}
                 | {"CRPS, % of price": pct("CRPS, % of price", format="%.3f")})
if backtest is not None:
    st.caption(f"Scores come from the evaluation code (walk-forward CRPS and {BAND_NAME} coverage); the random walk "
               "(historical volatility, same paths) runs on the same cut-offs, history windows and seeds (seed + i at "
               "the i-th cut-off back). The verdict judges noise only across cut-offs: the 95% interval resamples "
               "them (paired bootstrap of the CRPS skill, in % of price); the steps of one cut-off are not "
               "independent draws, so a single cut-off makes no noise claim.")
