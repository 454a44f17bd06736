"""Forecast page: data → quality gate → run → fan chart, summary, quantile table, downloads."""
import json
import re

import streamlit as st

from app_support import adapters, app_version, conditioned, data, ensemble, forecasts, ledger, risk, sidebar, trust
from app_support.charts import (
    CHART_CONFIG,
    fan_chart,
    fit_y_range,
    history_chart,
    history_title,
    quote_currency,
)
from app_support.errors import app_message, app_notice
from app_support.events import in_window, parse_events
from app_support.formats import price_format, price_input_format, probability_text, width_text
from app_support.models import model_line, served_note
from app_support.page import open_page
from kronos.quantiles import BAND, band_label, level_name
from kronos_studio.desk import FLOORED_COLUMN
from kronos_studio.desk.exports import csv_text, parquet_bytes
from kronos_studio.desk.metrics import summarize
from kronos_studio.desk.reading import ForecastReading

BANDS = {band_label(b): b for b in (BAND, (0.05, 0.95), (0.25, 0.75))}  # the first is the default
EXPORT_LEVELS = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)

st.title("Forecast")
from_screener = sidebar.handed_here()  # a row opened on the Screener page runs at once
start = open_page()
inputs, choice, bars, lookback, settings = start.inputs, start.choice, start.bars, start.lookback, start.settings

# The fan and its numbers first on screen (at 1366x768 they sat below the fold); the optional event inputs
# below them, though they run first: the fan needs their values.
head = st.container()
with st.expander("Event markers (optional)", icon=":material/flag:"):
    text = st.text_area("One per line: date[ time], label", key="events_text",
                        placeholder="2013-04-23, Earnings\n2013-05-01 14:00, FOMC")
    events, unreadable = parse_events(text)
    if unreadable:
        st.warning(f"Could not read these lines as dates: {unreadable}. Use e.g. `2013-04-23, Earnings`.")

# A key keeps the expander the same element across reruns, whatever its content (it stays open).
with st.expander("Event calendar and LoRA adapter", icon=":material/event:", key="fc_calendar_box"):
    calendar, calendar_markers, adapter, both_fans, leaders = adapters.controls(bars, choice)
events = events + calendar_markers


clicked = head.button("Run forecast", type="primary", icon=":material/play_arrow:", key="run_forecast") or from_screener
fc, from_store = forecasts.cached(bars, choice, settings), True
fc_plain = None
if adapter is not None:  # event-conditioned forecast with a LoRA adapter (app_support.adapters)
    fc, fc_plain, from_store = adapters.cached_or_run(bars, choice, settings, adapter, calendar, clicked, both_fans,
                                                      leaders)
    clicked = False
conditioning = inputs.covariates if adapter is None else ()  # "Condition on": the desk's forecast by Chronos-2
if conditioning:
    done = conditioned.stored(bars, settings, conditioning)
    if done is None and clicked:
        try:
            done = conditioned.run(bars, settings, conditioning)
            from_store = done.from_cache
        except Exception as e:  # a covariate refused (no overlap, stopped early, ...): its message and fix
            head.error(f"**The conditioned forecast could not run.** {app_message(e)}")
            st.stop()
    fc, clicked = (done.forecast if done is not None else None), False
if clicked and fc is None:
    try:
        fc, from_store = forecasts.run(bars, choice, settings)
    except Exception as e:  # InputError, CheckpointError and anything unforeseen: a message, not a traceback
        from kronos.checkpoints import CheckpointError

        what = "model could not be loaded" if isinstance(e, CheckpointError) else "forecast could not run"
        head.error(f"**The {what}.** {app_message(e)}")
        st.stop()
calendar_warning = data.calendar_warning(bars)  # said where the fan is drawn, not in a collapsed note
if fc is None:
    who = (f"Chronos-2 conditioned on {', '.join(map(conditioned.short_name, conditioning))}" if conditioning
           else choice.label)
    head.info(f"Press **Run forecast** to sample {settings.paths} paths of {settings.horizon} bars with {who}.")
    if calendar_warning:
        head.warning(calendar_warning, icon=":material/event_busy:")
    # The bars the model will read; drawing a chart now also has the browser load Plotly before the click.
    head.plotly_chart(history_chart(bars.frame.tail(lookback), settings.horizon,
                                  currency=quote_currency(bars.symbol, bars.source, bars.origin),
                                  title=history_title(f"{bars.symbol} {bars.interval}", min(lookback, len(bars)),
                                                      settings.horizon)),
                    key="history_chart", config=CHART_CONFIG)
    st.stop()

fan_col, badge_col = head.columns([4, 1.15])
# How the fan is drawn, under it (created after the fan's columns, so they sit below; they run first).
c1, c2, c3 = head.columns([2, 2, 3])
# persist_state: a run without a forecast (a new file, new settings) stops before these controls; the
# browser then forgets their values while the server keeps them, and on their return the chart drew the
# kept value under a control showing its default. Persisted, the server sends the kept value back too.
field = c1.segmented_control("Show", ["close", "high", "low", "volume"], default="close", key="fan_field",
                             persist_state="page") or "close"
band_name = c2.selectbox("Band", list(BANDS), key="fan_band", persist_state="page")
band = BANDS[band_name]
most = min(100, settings.paths)  # one slider per maximum: a kept count never exceeds the paths sampled
shown = c3.slider("Sample paths drawn", 0, most, min(10, most), key=f"fan_paths_{most}", persist_state="page")
show_members = bool(fc.members) and head.toggle(
    "Show members", key="fan_members", persist_state="page",
    help="Each member's median and band, thin, behind the ensemble's fan; the legend gives its weight in the mixture")

with badge_col:
    if conditioning:  # the track record is of the sidebar's model, not of the conditioned Chronos-2
        calibration = None
        with st.container(border=True):
            st.markdown("**Track record**")
            st.caption("None for Chronos-2 conditioned on other series: Evaluate scores the sidebar's model")
    else:
        calibration = trust.badge(bars, choice, settings, blocked="the track record is the base model's, "
                                  "not the adapter's" if adapter is not None else None)
if calibration is not None:  # everything below (chart, numbers, table, downloads) uses the calibrated paths
    fc = calibration.apply(fc)
ledger.record(fc, bars, calibration=calibration)  # every fan shown is kept once, and scored when its bars arrive
with badge_col:
    ledger.realized_caption(bars, fc)
reading = ForecastReading(fc)
problems = reading.problems(bars.frame["close"].to_numpy(), band)
for problem in problems:  # said before the fan, never drawn as if fine
    fan_col.error(f"**This fan is not fit to read ({problem.code}).** {problem.message}", icon=":material/error:")
if calendar_warning:
    fan_col.warning(calendar_warning, icon=":material/event_busy:")
fig = fan_chart(fc, field, band, paths=shown, events=events,
                currency=quote_currency(bars.symbol, bars.source, bars.origin),
                title=f"{bars.symbol} {bars.interval}: {settings.horizon}-bar forecast, {settings.paths} paths"
                      + (" (calibrated)" if calibration is not None else "")
                      + (" — NOT PLAUSIBLE, see above" if problems else ""),
                members=ensemble.legend_members(fc) if show_members else None)
if fc_plain is not None:
    adapters.overlay(fig, fc_plain, field, band)
    fit_y_range(fig)  # keep the no-events fan in the opening view too
fan_col.plotly_chart(fig, key="fan_chart", config=CHART_CONFIG)
if conditioning:  # said under the fan: what it read, and that no gain has been measured
    fan_col.caption(f"**Conditioned.** {conditioned.caption(fc)}", help=None)
    for notice in done.notices:
        fan_col.caption(app_notice(notice))

s = summarize(fc, "close", band)
decimals = bars.price_decimals()  # prices as the series writes them: 1.2050 stays 1.2050
price = price_format(decimals)
m = head.columns(4)
m[0].metric("Expected return at horizon", f"{s.expected_return:+.2%}", help="Mean of the paths' last close "
            f"vs the last close ({s.last:{price}}); median path {s.median_return:+.2%}")
m[1].metric("P(close ends above last close)", probability_text(s.prob_up))
m[2].metric(f"Band width {band_name} at horizon", width_text(s.band_width),
            help=f"{s.band_low:{price}} to {s.band_high:{price}}, relative to the last close")
prov = fc.provenance
m[3].metric("Sampling time", f"{prov['elapsed_s']:.1f} s", "from cache" if from_store else "just sampled",
            delta_color="off", delta_arrow="off")
head.caption(ensemble.caption(prov) if "weights" in prov else model_line(prov, conditioned=bool(conditioning)))
if served_note(prov):
    head.caption(served_note(prov))
if not conditioning:  # candles repaired, a volume that is no forecast, volumes floored: said, never silent (a
    for notice in reading.notices():  # conditioned forecast's are among its notices, under the fan)
        (head.warning if notice.kind == "warning" else head.caption)(app_notice(notice))

st.subheader("Ask the paths")
# One widget per series: a level typed for one instrument must never be carried to another, where
# Streamlit would keep the old value under a fixed key while the default shown had moved on.
tick = 10.0 ** -decimals
# No min_value: the browser would silently put a typed 0 or -5 back to the minimum; refused below, by name.
level = st.number_input("Price level", value=round(reading.start_level(), decimals), step=tick,
                        format=price_input_format(decimals), key=f"level_{bars.source}_{bars.symbol}_{bars.interval}_"
                                                     f"{bars.content_hash()}",
                        help="A price you care about: a target, a stop, a strike (it starts at the top of the "
                             f"{band_label()} band of the close at the horizon)", width=220, persist_state="page")
drawdown = reading.drawdown()
a = st.columns(4)
if level > 0:
    answer = reading.odds(level)
    a[0].metric(f"P(close above {level:{price}} at horizon)", probability_text(answer.p_above_at_horizon))
    a[1].metric(f"P(close below {level:{price}} at horizon)", probability_text(answer.p_below_at_horizon))
    a[2].metric(f"P(touch {level:{price}} within horizon)", probability_text(answer.p_touch),
                help=f"Share of paths where some bar's {'high' if answer.touch_side == 'above' else 'low'} reaches it")
else:
    a[0].error(f"**Price level {level:{price}} is not a price.** A level must be above 0: type a target, a stop "
               "or a strike.", icon=":material/error:")
a[3].metric("Expected max drawdown", f"{drawdown['expected']:.1%}", help=f"Close to close from the last close; "
            f"median {drawdown['p50']:.1%}, p90 {drawdown['p90']:.1%} over the paths")
paths = fc.paths.shape[0]
st.caption(f"Shares of the {paths} {'calibrated ' if calibration is not None else ''}sample paths "
           f"(steps of {1 / paths:.1%}); more paths give finer probabilities.")

levels = (band[0], 0.5, band[1])
table = reading.quantiles(levels)
cols = [f"{f}_{level_name(q)}" for f in ("close", "high", "low", "volume") for q in levels]
if reading.volume() == "unreliable":  # each step's share of paths floored at 0 beside its volume
    cols.append(FLOORED_COLUMN)
st.subheader("Quantiles")
shown_table = table[cols].reset_index()
if shown_table["timestamp"].dt.tz is not None:  # market wall clock, as on the chart
    shown_table["timestamp"] = shown_table["timestamp"].dt.tz_localize(None)
# Prices at the series' own decimals (unformatted, float32 quantiles showed up to 4 whatever the series has).
written = {c: st.column_config.NumberColumn(format="%.0f" if c.startswith("volume") else price_input_format(decimals))
           for c in cols} | {FLOORED_COLUMN: st.column_config.NumberColumn(format="percent")}
st.dataframe(shown_table, key="quantile_table", hide_index=True,
             column_config={"timestamp": st.column_config.DatetimeColumn("timestamp", format="YYYY-MM-DD HH:mm"),
                            **written})


export = {"app": {"name": "Kronos Studio", "version": app_version()}, "provenance": prov,
          "data": {"source": bars.source, "symbol": bars.symbol, "series_symbol": bars.series_symbol,
                   "interval": bars.interval, "calendar": bars.calendar,
                   **data.calendar_provenance(bars), "origin": bars.origin, "bars": len(bars), "content_sha256": bars.content_hash(),
                   "notes": bars.notes},
          "band": list(band), "events": [[str(t), label] for t, label in  # those in the forecast's window only
                                         in_window(events, fc.history["timestamp"].iloc[0], fc.timestamps[-1])]}
# studio-small, mini, a folder's name; the Chronos-2 that sampled a conditioned fan, not the sidebar's model
model_tag = conditioned.model_tag(conditioning) if conditioning else choice.key.split(":", 1)[-1].rsplit("/", 1)[-1]
stem = re.sub(r"[^A-Za-z0-9._-]+", "-", f"kronos_{bars.symbol}_{bars.interval}_{model_tag}_seed{prov['seed']}"
                                         + ("_calibrated" if calibration is not None else ""))
d = st.columns(4)
d[0].download_button("Quantiles CSV", lambda: csv_text(reading.quantiles(EXPORT_LEVELS).reset_index()),
                     f"{stem}_quantiles.csv", "text/csv", on_click="ignore", icon=":material/download:")
d[1].download_button("Paths Parquet", lambda: parquet_bytes(fc.paths_frame()), f"{stem}_paths.parquet", "application/octet-stream",
                     on_click="ignore", icon=":material/download:")
d[2].download_button("Paths CSV", lambda: csv_text(fc.paths_frame()), f"{stem}_paths.csv", "text/csv",
                     on_click="ignore", icon=":material/download:")
d[3].download_button("Settings + provenance JSON", lambda: json.dumps(export, indent=2, default=str),
                     f"{stem}_provenance.json", "application/json", on_click="ignore", icon=":material/download:")
with st.expander("Provenance"):
    st.json(export, expanded=1)

risk.panel(fc, bars, f"{prov['name'] if conditioning else prov['model']}, {settings.horizon}-bar horizon, seed {prov['seed']}"
           + (", calibrated" if calibration is not None else "") + (", with the adapter" if adapter is not None else ""),
           (choice, settings) if calibration is None and adapter is None and not conditioning else None)
