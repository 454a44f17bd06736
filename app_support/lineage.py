"""The Fine-tune page's registry section: the series' lineage (every adapter ``kronos retrain`` trained
for it, with its decision and scores), its timeline (every move of those entries, from the registry's
event history: ``Desk.adapters``) and "Retrain now" (the gated retrain, ``Desk.retrain``)."""
from __future__ import annotations

import html

import plotly.graph_objects as go

from kronos.lazy import pd
from kronos_studio.desk import AdaptersRequest, RetrainRequest, RetrainSettings
from kronos_studio.desk.ledger import LedgerError

from . import ledger as app_ledger
from .forecasts import desk
from .knob_widgets import knob_controls
from .models import load_model

MADE_BY = "app: Retrain now"  # what the registry records as the maker of the adapters the button trains

# The timeline's legend groups of the events the registry writes (kronos_studio.ledger.schema): a retirement
# and a rollback both take a champion out of service, so they are drawn alike.
EVENT_GROUPS = {"registered": "registered", "promoted": "promoted", "rejected": "rejected",
                "retired": "retired / rolled back", "rolled_back": "retired / rolled back", "restored": "restored"}
GROUP_MARKERS = {  # in legend order: colour (Okabe-Ito) and symbol
    "registered": ("#999999", "circle-open"), "promoted": ("#009E73", "triangle-up"), "rejected": ("#D55E00", "x"),
    "retired / rolled back": ("#E69F00", "triangle-down"), "restored": ("#0072B2", "diamond"),
}

def columns(zone: str) -> list[str]:
    """The lineage table's columns: the window's bar times in the series' clock ``zone``, the decision's in UTC
    (each says which)."""
    return ["id", "status", "parent", f"trained on ({zone})", "CRPS % challenger", "CRPS % champion", "CRPS % base",
            "decided (UTC)", "reason"]


def in_zone(t, zone: str) -> str:
    """A registry time (UTC) in ``zone``'s clock, to the minute."""
    return f"{pd.Timestamp(t).tz_convert(zone):%Y-%m-%d %H:%M}"


def registered(bars):
    """``Desk.adapters`` of ``bars``' series in this session's workspace: its entries and their moves, oldest first
    (None when the ledger is unavailable)."""
    book = app_ledger.ledger()
    if book is None:
        return None
    request = AdaptersRequest(source=bars.source, symbol=bars.series_symbol, interval=bars.interval)
    return desk(computing=False).adapters(request, ledger=book)


def lineage(bars) -> pd.DataFrame | None:
    """One row per registry entry of ``bars``' series in this session's workspace, newest first, its window in
    the series' clock (None when the ledger is unavailable)."""
    done = registered(bars)
    if done is None:
        return None
    zone = bars.timezone or "UTC"
    rows = []
    for e in reversed(done.entries):
        crps = (e.scores or {}).get("crps", {})
        rows.append([e.id, e.status, e.parent_id, f"{in_zone(e.first_bar_at, zone)} to {in_zone(e.last_bar_at, zone)}",
                     crps.get("challenger"), crps.get("champion"), crps.get("base"),
                     None if e.decided_at is None else in_zone(e.decided_at, "UTC"), e.reason])
    return pd.DataFrame(rows, columns=columns(zone))


def history(bars) -> list | None:
    """Every registry event of ``bars``' series in this session's workspace, oldest first (None when the
    ledger is unavailable)."""
    done = registered(bars)
    return None if done is None else done.events


def _hover(event) -> str:
    crps = (event.scores or {}).get("crps", {})
    scores = ", ".join(f"{role} {value:.3f}%" for role, value in crps.items() if value is not None)
    lines = [f"<b>adapter {event.adapter_id}</b>: {event.event.replace('_', ' ')} by {html.escape(event.by)}",
             f"{event.at:%Y-%m-%d %H:%M:%S} UTC"]
    if event.reason:
        lines.append(html.escape(event.reason))
    if scores:
        lines.append(f"CRPS {scores}")
    return "<br>".join(lines)


def timeline_chart(events) -> go.Figure:
    """One marker per event: x its time, y its adapter, coloured by kind, the hover naming the adapter, what
    made the move, its reason and the gate's CRPS scores; as tall as its adapters need."""
    fig = go.Figure()
    for group, (color, symbol) in GROUP_MARKERS.items():
        mine = [e for e in events if EVENT_GROUPS[e.event] == group]
        if not mine:
            continue
        fig.add_trace(go.Scatter(
            x=[pd.Timestamp(e.at).tz_convert("UTC").tz_localize(None) for e in mine],  # drawn as UTC, as the axis says
            y=[f"adapter {e.adapter_id}" for e in mine], mode="markers", name=group,
            marker=dict(color=color, symbol=symbol, size=12, line=dict(width=1, color=color)),
            hovertext=[_hover(e) for e in mine], hoverinfo="text"))
    adapters = list(dict.fromkeys(f"adapter {e.adapter_id}" for e in sorted(events, key=lambda e: e.adapter_id)))
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=adapters, title_text=None)
    fig.update_xaxes(title_text="when (UTC)", range=_time_range([e.at for e in events]))
    fig.update_layout(height=min(600, 190 + 40 * len(adapters)), margin=dict(l=10, r=10, t=40, b=10), title="Timeline: every move of this series' adapters",
                      legend=dict(orientation="h", y=-0.25))
    return fig


MIN_TIMELINE = pd.Timedelta(hours=1)  # events seconds apart (a retrain's registration, then its decision)


def _time_range(times) -> list[pd.Timestamp] | None:
    """The timeline's x range: its events with 5% each side, and at least ``MIN_TIMELINE`` around them, so the
    ticks fall on minutes or coarser (plotly ticks seconds-apart events at tenths of a second: "15:53:17.1")."""
    if not times:
        return None
    stamps = pd.DatetimeIndex([pd.Timestamp(t).tz_convert("UTC").tz_localize(None) for t in times])
    first, last = stamps.min(), stamps.max()
    pad = max((last - first) * 0.05, (MIN_TIMELINE - (last - first)) / 2)
    return [first - pad, last + pad]


def retrain_controls(where) -> dict:
    """The Fine-tune page's "Retrain settings": a widget per ``Knob`` of ``RetrainSettings`` (window, cut-offs,
    steps, ...; ``knob_widgets``), starting at its defaults, keyed ``ft_retrain_<setting>``; field name -> value."""
    return knob_controls(where, RetrainSettings, "ft_retrain_", handed=False)


def retrain_now(choice, bars, horizon: int, include_training_period: bool = False, progress=None, options=None):
    """The gated retrain of ``bars``' series at its last bar on ``choice``'s model (``champion``: on the base its
    champion was trained on, the bundled default when it has none): the decision (the JSON entry ``kronos
    retrain`` writes); ``progress(share, text)`` after every training step and scoring phase. Held-out cut-offs
    inside the model's training period are left out unless ``include_training_period``; ``options``: the
    ``RetrainSettings`` knobs the page set (``retrain_controls``; None: their defaults). Raises ``RetrainError`` /
    ``TrainingPeriodError`` / ``SeriesLocked`` / ``LedgerError`` with messages meant for the user."""
    settings = RetrainSettings(horizon=horizon, include_training_period=include_training_period, **(options or {}))
    book = app_ledger.ledger()
    if book is None:
        raise LedgerError(f"the forecast ledger is unavailable ({app_ledger.problem()}): it keeps the registry")
    if not choice.per_series:
        load_model(choice)  # loaded with its progress shown; the desk then finds it warm
    # champion: retrained on the base its champion was trained on
    asked = RetrainRequest(bars, None if choice.per_series else choice, settings, made_by=MADE_BY)
    return desk().retrain(asked, ledger=book).run(progress).decisions[-1]
