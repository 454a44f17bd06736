"""LoRA event adapters in the app: where they are kept, merging one onto a loaded model (once per
process; the shared base model is never modified), event calendars and event-conditioned runs."""
from __future__ import annotations

import os
import re
from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from kronos.errors import UserError
from kronos.lazy import pd
from kronos.quantiles import path_quantiles
from kronos_studio.desk import ADAPTER_CONFIG, LEADERS, EventError, ForecastRequest, ModelRef
from kronos_studio.desk.adapted import (
    AdapterRequest,
    adapters_folder,
    adapters_trained_on,
    event_calendar,
    parse_leader,
    trained_leaders,
)

from .errors import app_message, app_notice
from .forecasts import desk, future_stamps
from .models import load_model
from .runs import ProgressBar

ENV_ADAPTERS = "KRONOS_STUDIO_ADAPTERS"  # extra adapter folders, os.pathsep-separated
ADAPTER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # a plain folder name: no separators, no '..'


def adapter_dir() -> Path:
    """Where the Fine-tune page writes adapters and the pages find them: ``adapters/`` under the studio's
    storage root, in this session's workspace (``auth.workspace``; ``kronos_studio.workspaces``)."""
    from .auth import workspace

    return adapters_folder(workspace())


def adapter_folder(name: str) -> Path:
    """The folder for a new adapter called ``name``; anything but a plain name is refused, so that a
    name can never write outside the adapters folder."""
    if not ADAPTER_NAME.fullmatch(name or "") or ".." in name:
        raise ValueError(f"'{name}' is not a plain adapter name: use letters, digits, '.', '_' or '-' "
                         "(at most 64, starting with a letter or digit), without '/', '\\' or '..'")
    return adapter_dir() / name


def adapter_folders() -> list[Path]:
    roots = [adapter_dir()] + [Path(p).expanduser() for p in filter(None, os.environ.get(ENV_ADAPTERS, "").split(os.pathsep))]
    out = []
    for root in roots:
        cands = [root] + (sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else [])
        out += [p for p in cands if (p / ADAPTER_CONFIG).is_file()]
    return out


def adapters_for(pair) -> list[Path]:
    """Adapter folders trained on this pair's predictor and tokenizer revisions (either adapter format)."""
    return adapters_trained_on(pair, adapter_folders())


def calendar(use_bundled: bool = True, upload=None):
    """The bundled calendar, a user calendar (uploaded CSV: datetime, type, actual, consensus), or both.
    Raises ``EventError`` for an unreadable upload (``desk.adapted.event_calendar``)."""
    user = () if upload is None else [(upload.getvalue(), getattr(upload, "name", "upload"))]
    return event_calendar(bundled=use_bundled, user=user)


def markers(cal, bars) -> list[tuple[pd.Timestamp, str]]:
    """Calendar events as (time in the bars' time zone, label) pairs for the fan chart."""
    if cal is None:
        return []
    tz = pd.DatetimeIndex(bars.frame["timestamp"]).tz
    return [(t.tz_convert(tz) if tz is not None else t.tz_localize(None), label) for t, label in cal.markers(short=True)]


def controls(bars, choice: ModelRef, pick_adapter: bool = True):
    """The page's calendar and adapter inputs: (calendar or None, markers, adapter folder or None,
    draw-both toggle). ``pick_adapter=False``: the calendar only (the Fine-tune page trains one)."""
    use = st.checkbox("Show the bundled US macro calendar (FOMC, CPI, payrolls, GDP, PCE; 2022–2026)", True,
                      key="cal_bundled")
    upload = st.file_uploader("Your event calendar (CSV: datetime, type, actual, consensus; times US Eastern "
                              "unless they carry an offset)", type=["csv", "txt"], key="cal_upload")
    try:
        cal = calendar(use, upload)
    except EventError as e:
        st.warning(f"Could not read the calendar: {app_message(e)}")
        cal = calendar(use)
    shown = markers(cal, bars)
    folder, both, leaders = None, False, ()
    if pick_adapter and adapter_folders() and choice.takes_adapter:
        try:
            found = adapters_for(load_model(choice))
        except Exception:  # the model cannot load: the run button reports it
            found = []
        if found:
            folder = st.selectbox("LoRA event adapter", [None, *found], key="adapter_folder",
                                  format_func=lambda p: "none (base model, no event inputs)" if p is None else p.name)
            if folder is not None:
                both = st.toggle("Draw the fan with and without events", key="adapter_both",
                                 help="The dashed lines are the same adapter sampled without event inputs")
                leaders = leader_input(folder)
                if cal is None and not leaders:
                    st.info("The adapter reads no events without a calendar: its fan equals the no-events fan.")
    return cal, shown, folder, both, leaders


def leader_input(folder: Path) -> tuple:
    """The *Leaders* control of an adapter: other series read through its event encoder's leader channels."""
    learned = trained_leaders(str(folder))
    trained = ("it says nothing of the leaders it learned from" if learned is None else
               f"it learned from {', '.join(sorted(learned))}" if learned else "it learned from no leader")
    text = st.text_input("Leaders", key="adapter_leaders", placeholder="index=S&P 500 index daily 1999-2018 (arch)",
                         help=f"other series the adapter reads through its leader channels ({', '.join(LEADERS)}), "
                              f"as CHANNEL=SERIES separated by ';' (a bundled sample, a source:ticker or a file); "
                              f"{trained}. Each leader bar is read only once it completed before the forecast's "
                              "cut-off.")
    try:
        return leaders_of(text)
    except UserError as e:
        st.error(app_message(e))
        return ()


def coverage_gap(cal, bars) -> str | None:
    """What the calendar misses of the bars' period, in words (None when it covers at least 90% of the
    bars): bars outside it get empty event channels, so an adapter learns nothing from events there."""
    if cal is None or not len(cal):
        return None
    times = pd.to_datetime(cal.frame["time"], utc=True)
    first, last = times.min(), times.max()
    stamps = pd.DatetimeIndex(bars.frame["timestamp"])
    stamps = stamps.tz_convert("UTC") if stamps.tz is not None else stamps.tz_localize("UTC")
    inside = float(((stamps >= first) & (stamps <= last)).mean())
    if inside >= 0.9:
        return None
    span = f"the event calendar runs {first:%Y-%m-%d} → {last:%Y-%m-%d}, the bars {stamps[0]:%Y-%m-%d} → {stamps[-1]:%Y-%m-%d}"
    if inside == 0:
        return (f"**The event calendar does not cover these bars at all:** {span}. Every event channel is empty, "
                "so an adapter learns nothing from events; upload a calendar of the bars' period.")
    return (f"**The event calendar covers only {inside:.0%} of these bars:** {span}. Bars outside it get empty "
            "event channels; upload a calendar of the whole period, or load bars within it.")


def leaders_of(text: str) -> tuple[tuple[str, str], ...]:
    """The *Leaders* input ('index=S&P 500 ...; crypto=BTC ...') as (channel, series) pairs
    (``desk.adapted.parse_leader`` refuses one without a channel)."""
    return tuple(parse_leader(item) for item in (text or "").split(";") if item.strip())


def cached_or_run(bars, choice: ModelRef, settings, folder: Path, cal, clicked: bool, both: bool,
                  leaders: tuple = ()):
    """(forecast with events, forecast without events or None, came_from_store) by the adapter in ``folder``
    (``Desk.forecast`` with an ``AdapterRequest``: the calendar's events and the ``leaders``; without: neither),
    kept in the desk's one result cache; runs when ``clicked``, otherwise only kept forecasts are returned (None
    when absent)."""
    from .auth import workspace

    wanted = ("events", "plain") if both else ("events",)  # the fan without events only when it is drawn
    try:
        requests = {"events": AdapterRequest(str(folder), cal, leaders), "plain": AdapterRequest(str(folder))}
        kept = {k: desk(computing=False).kept_forecast(ForecastRequest(bars, choice, settings, workspace(),
                                                                       adapter=requests[k])) for k in wanted}
    except Exception as e:  # a leader refused (no such channel, never learned, no overlap): its message and fix
        st.error(f"**The adapter forecast could not run.** {app_message(e)}")
        st.stop()
    got = {k: None if v is None else v.forecast for k, v in kept.items()}
    for n in kept["events"].notices if kept["events"] is not None else ():
        st.caption(app_notice(n))
    from_store = all(got[k] is not None for k in wanted)
    if clicked and not from_store:
        try:
            future = future_stamps(bars, settings.horizon)
            for k in wanted:
                if got[k] is not None:
                    continue
                bar = ProgressBar(f"Sampling {settings.paths} paths with {folder.name} "
                                  + ("and events" if k == "events" else "without events"))
                try:
                    done = desk().forecast(ForecastRequest(bars, choice, settings, workspace(), future,
                                                           adapter=requests[k]), progress=bar)
                finally:
                    bar.done()
                got[k] = done.forecast
                if k == "events":
                    for n in done.notices:
                        st.caption(app_notice(n))
        except Exception as e:
            st.error(f"**The adapter forecast could not run.** {app_message(e)}")
            st.stop()
    return got["events"], got.get("plain"), from_store


def overlay(fig, forecast, field: str, band) -> None:
    """Add a second forecast's band and median as dashed lines (the no-events fan)."""
    j = list(forecast.columns).index(field)
    lo, mid, hi = path_quantiles(forecast.paths[:, :, j], [min(band), 0.5, max(band)])
    x = pd.DatetimeIndex(forecast.timestamps)
    x = x.tz_localize(None) if x.tz is not None else x
    for y, name in ((lo, "no events: band"), (hi, None), (mid, "no events: p50")):
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name or "", showlegend=name is not None,
                                 line=dict(color="#ff7f0e", width=1.5 if name == "no events: p50" else 1, dash="dash"),
                                 legendgroup="noevents"))
