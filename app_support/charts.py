"""Plotly figures built from Forecast objects: the fan chart, the model-comparison grid and overlay.

Library code (no Streamlit): every function takes a Forecast (or several) and returns a
``plotly.graph_objects.Figure``. Timestamps are drawn in the market's wall clock (tz dropped,
because plotly.js ignores UTC offsets), and nights/weekends the data never trades are hidden.
Figures open on a window of recent history plus the forecast (``initial_window``); the rest of the
history is in the figure, a zoom-out or double-click away.
"""
from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from data_sources.intervals import is_intraday
from data_sources.numbers import price_decimals
from data_sources.sources import YFINANCE
from kronos.lazy import np, pd
from kronos.quantiles import BAND, BAND_NAME, level_name, path_quantiles
from kronos_studio.desk import VOLUME_KEY
from kronos_studio.desk.reading import ForecastReading

from .formats import price_format

if TYPE_CHECKING:  # keep this module importable without torch
    from kronos.forecast import Forecast

FIELDS = ("close", "high", "low", "volume")
FAN = "rgba(31, 119, 180, {a})"
PATHS = "rgba(31, 119, 180, 0.18)"
ACTUAL = "#d62728"
EVENT = "#7f7f7f"
GAP = "#6a3d9a"
# Okabe-Ito colours, distinguishable with the common colour-vision deficiencies; up candles are also
# hollow and down candles filled, so the direction reads without colour at all.
UP, DOWN = "#009E73", "#D55E00"
MODEL_COLORS = ("#0072B2", "#E69F00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
# Past forecasts on the Track record chart, one colour each (none of them the actual close's red), and a
# line style per model.
FORECAST_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#8C6D46", "#000000", "#BCBD22",
                   "#7F7F7F", "#17BECF", "#882255", "#44AA99")
DASHES = ("solid", "dash", "dot", "dashdot")
# An ensemble's members behind its fan: muted, none of them the fan's blue nor the candles' colours.
MEMBER_COLORS = ("#E69F00", "#CC79A7", "#8C6D46", "#7F7F7F", "#BCBD22", "#17BECF")
# Plotly's toolbar without the selection tools (nothing here uses a selection): a shorter modebar.
CHART_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}
MODEBAR_PX = 34  # strip kept free above the title for plotly's modebar (22 px buttons + padding)
GRID_LEGEND_Y = -0.15  # the small multiples' legend, in their plot areas' heights: under two lines of tick labels
TITLE_CHARS = 40  # longer titles wrap at a ", " / " — ": about what fits a phone-wide chart at 17 px
Event = tuple  # (timestamp-like, label)


def _wall(ts) -> pd.DatetimeIndex:
    idx = pd.DatetimeIndex(pd.to_datetime(ts))
    return idx.tz_localize(None) if idx.tz is not None else idx


def quote_currency(symbol: str, source: str | None = None, origin: str = "") -> str:
    """The currency prices are quoted in when the symbol or the source says so, else "".

    ``BTC/USDT`` (a ccxt pair, ``BTC/USDT:USDT`` too) → USDT; Yahoo FX ``EURUSD=X`` → USD; Yahoo crypto
    ``BTC-USD`` → USD; Yahoo bars whose origin carries Yahoo's own currency field → that. A stock ticker
    alone never gives one (AAPL could be quoted anywhere it lists)."""
    s = (symbol or "").strip().upper()
    if "/" in s:
        quote = s.split("/", 1)[1].split(":", 1)[0]
        return quote if re.fullmatch(r"[A-Z0-9]{2,10}", quote) else ""
    if re.fullmatch(r"[A-Z]{6}=X", s):
        return s[3:6]
    if source in (None, YFINANCE):
        m = re.fullmatch(r"[A-Z0-9]{2,10}-(USD|EUR|GBP|JPY|USDT|USDC|BTC|ETH)", s)
        if m:
            return m.group(1)
    if source == YFINANCE:  # data_sources.yahoo writes Yahoo's metadata currency into the origin
        m = re.search(r"via yfinance \([^()]*, ([A-Z]{3})\)", origin or "")
        if m:
            return m.group(1)
    return ""


def initial_window(horizon: int) -> int:
    """History bars in view when a chart opens: 1.5x the horizon (rounded down, at least 1), so that the
    forecast keeps at least 40% of the width; for horizons of 14+ bars that is 20+ bars of history."""
    return max(1, int(1.5 * horizon))


def _field_index(forecast: Forecast, field: str) -> int:
    if field not in FIELDS:
        raise ValueError(f"field must be one of {FIELDS}, got {field!r}")
    return list(forecast.columns).index(field)


def _band(forecast: Forecast, field: str, band: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo, hi = sorted(float(b) for b in band)
    if not 0 <= lo < hi <= 1:
        raise ValueError(f"band must be two levels with 0 <= low < high <= 1, got {band}")
    q = path_quantiles(forecast.paths[:, :, _field_index(forecast, field)], [lo, 0.5, hi])
    return q[0], q[1], q[2]


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


def _rangebreaks(stamps: pd.DatetimeIndex) -> list[dict]:
    """Hide weekends and the hours of the day that never hold a bar (nights, lunch breaks): keeps candles
    contiguous. ``stamps`` may repeat and come in any order (a grid's subplots each add their own bars):
    the bar step is the smallest gap between distinct times, never a jump back to another subplot's first bar."""
    stamps = pd.DatetimeIndex(stamps).unique().sort_values()
    if len(stamps) < 3:
        return []
    breaks = []
    if not (stamps.day_of_week >= 5).any():
        breaks.append(dict(bounds=["sat", "mon"]))
    step = pd.Series(stamps).diff().dropna().min()
    if step is not None and step < pd.Timedelta(hours=12):
        breaks += _closed_hours(stamps, step)
        if (stamps.day_of_week >= 5).any():
            breaks += _closed_stretches(stamps.sort_values(), step)
    return breaks


CLOSED_HOURS_MIN = pd.Timedelta(minutes=15)  # shorter holes in the day (a bar missing now and then) stay drawn


def _closed_hours(stamps: pd.DatetimeIndex, step: pd.Timedelta) -> list[dict]:
    """One hour-of-day rangebreak per stretch of the day without a bar on any day (the night, a lunch break
    such as Shanghai's 11:30-13:00), longer than CLOSED_HOURS_MIN and than one and a half steps; half a
    step kept each side (candles are one step wide)."""
    day, hour = pd.Timedelta(days=1), pd.Timedelta(hours=1)
    times = pd.TimedeltaIndex(np.unique((stamps - stamps.normalize()).to_numpy()))
    gaps = pd.TimedeltaIndex([*times[1:], times[0] + day]) - times  # the last one runs over midnight
    breaks = []
    for start, gap in zip(times, gaps):
        if gap > max(CLOSED_HOURS_MIN, 1.5 * step):
            bounds = [((start + step / 2) % day) / hour, ((start + gap - step / 2) % day) / hour]
            breaks.append(dict(pattern="hour", bounds=bounds))
    return breaks


def _closed_stretches(stamps: pd.DatetimeIndex, step: pd.Timedelta) -> list[dict]:
    """Intraday bars of a market that closes for whole days off the Saturday-Sunday grid (the FX weekend,
    Friday to Sunday 17:00 New York): each stretch of 12+ hours without a bar is hidden, half a step kept
    each side, one rangebreak per stretch length (Plotly's values + dvalue)."""
    gaps = stamps[1:] - stamps[:-1]
    closed = gaps > max(pd.Timedelta(hours=12), 3 * step)
    by_length: dict[pd.Timedelta, list[str]] = {}
    for start, gap in zip(stamps[:-1][closed], gaps[closed]):
        by_length.setdefault(gap - step, []).append(f"{start + step / 2:%Y-%m-%d %H:%M:%S}")
    return [dict(values=starts, dvalue=length / pd.Timedelta(milliseconds=1)) for length, starts in by_length.items()]


def _history_traces(history: pd.DataFrame, field: str, showlegend: bool = True) -> list[go.BaseTraceType]:
    x = _wall(history["timestamp"])
    if field == "volume":
        return [go.Bar(x=x, y=history["volume"], name="volume", marker_color="rgba(120,120,120,0.6)",
                       showlegend=showlegend, legendgroup="history")]
    return [go.Candlestick(x=x, open=history["open"], high=history["high"], low=history["low"],
                           close=history["close"], name="history", showlegend=showlegend, legendgroup="history",
                           increasing=dict(line=dict(color=UP, width=1), fillcolor="rgba(0, 0, 0, 0)"),
                           decreasing=dict(line=dict(color=DOWN, width=1), fillcolor=DOWN))]


def _fmt(field: str, history: pd.DataFrame) -> str:
    """Hover format of ``field``: volumes whole, prices at the series' own precision (1.2050 stays 1.2050)."""
    return ",.0f" if field == "volume" else price_format(_decimals(history))


def _decimals(history: pd.DataFrame) -> int:
    return price_decimals(history["close"].to_numpy())  # as Bars.price_decimals reads it


def volume_withheld(forecast: Forecast, field: str = "volume") -> str | None:
    """Why no volume fan is drawn for ``forecast`` (None: it is drawn, or ``field`` is a price): the model forecasts
    no volume (every path holds one number), or at some step half its paths or more sampled a volume below 0, so
    the median there is the floor, not a forecast (``forecasters.bounds``)."""
    if field != "volume":
        return None

    reading = ForecastReading(forecast).volume()
    record = forecast.provenance.get(VOLUME_KEY) or {}
    if reading == "held":
        return (f"No volume fan: this model forecasts no volume (every path holds the recent median, "
                f"{record['volume_held']:,.0f})")
    if reading == "unreliable":
        return (f"No volume fan: the volume forecast is unreliable (at {record['unreliable_steps']} of "
                f"{len(record['volume_floored_by_step'])} steps half the paths or more sampled a volume below 0, so "
                "the median is the floor, 0)")
    return None


def _fan_traces(forecast: Forecast, field: str, band: Sequence[float], anchor: float, anchor_x,
                showlegend: bool = True, with_x: bool = False) -> list[go.Scatter]:
    """Band edges (the upper one filled down to the lower) and the p50 line; none for a volume that is not a
    forecast (``volume_withheld``). ``with_x``: the hover text names the time (for charts whose hover shows one
    point, not a unified box)."""
    if volume_withheld(forecast, field):
        return []
    lo, mid, hi = _band(forecast, field, band)
    x = [anchor_x, *_wall(forecast.timestamps)]
    lo_name, hi_name = (level_name(b) for b in sorted(band))
    fmt = _fmt(field, forecast.history)
    when = "%{x|%Y-%m-%d %H:%M}<br>" if with_x else ""
    edges = np.column_stack([[anchor, *lo], [anchor, *hi]])
    return [
        go.Scatter(x=x, y=[anchor, *lo], mode="lines", line=dict(width=0.5, color=FAN.format(a=0.5)),
                   name=f"{field} {lo_name}", legendgroup="band", showlegend=False,
                   hovertemplate=f"{when}{lo_name} %{{y:{fmt}}}<extra></extra>"),
        go.Scatter(x=x, y=[anchor, *hi], mode="lines", line=dict(width=0.5, color=FAN.format(a=0.5)),
                   fill="tonexty", fillcolor=FAN.format(a=0.22), name=f"{field} {lo_name}–{hi_name}",
                   legendgroup="band", showlegend=showlegend,
                   hovertemplate=f"{when}{hi_name} %{{y:{fmt}}}<extra></extra>"),
        go.Scatter(x=x, y=[anchor, *mid], mode="lines", line=dict(width=2, color=FAN.format(a=1)),
                   name=f"{field} p50", legendgroup="p50", showlegend=showlegend, customdata=edges,
                   hovertemplate=f"{when}p50 %{{y:{fmt}}}<br>{lo_name}–{hi_name} %{{customdata[0]:{fmt}}} – "
                                 f"%{{customdata[1]:{fmt}}}<extra></extra>"),
    ]


def _member_traces(forecast: Forecast, members: Sequence[tuple[str, np.ndarray]], field: str,
                   band: Sequence[float], anchor: float, anchor_x) -> list[go.Scatter]:
    """Each member's band (thin edges, faint fill) and median (thin line), one muted colour and one legend
    entry (its label) per member; ``members`` are (label, paths [S, H, 6]) on the forecast's timestamps."""
    j = _field_index(forecast, field)
    x = [anchor_x, *_wall(forecast.timestamps)]
    lo_level, hi_level = sorted(float(b) for b in band)
    lo_name, hi_name = level_name(lo_level), level_name(hi_level)
    fmt = _fmt(field, forecast.history)
    out = []
    for i, (label, paths) in enumerate(members):
        color = MEMBER_COLORS[i % len(MEMBER_COLORS)]
        lo, mid, hi = path_quantiles(np.asarray(paths, np.float64)[:, :, j], [lo_level, 0.5, hi_level])
        group = f"member: {label}"
        out += [
            go.Scatter(x=x, y=[anchor, *lo], mode="lines", line=dict(width=0.6, color=_rgba(color, 0.5)),
                       name=f"{label} {lo_name}", legendgroup=group, showlegend=False,
                       hovertemplate=f"{label} {lo_name} %{{y:{fmt}}}<extra></extra>"),
            go.Scatter(x=x, y=[anchor, *hi], mode="lines", line=dict(width=0.6, color=_rgba(color, 0.5)),
                       fill="tonexty", fillcolor=_rgba(color, 0.07), name=f"{label} {hi_name}", legendgroup=group,
                       showlegend=False, hovertemplate=f"{label} {hi_name} %{{y:{fmt}}}<extra></extra>"),
            go.Scatter(x=x, y=[anchor, *mid], mode="lines", line=dict(width=1.2, color=_rgba(color, 0.9)),
                       name=label, legendgroup=group,
                       hovertemplate=f"{label}: p50 %{{y:{fmt}}}<extra></extra>"),
        ]
    return out


def _path_traces(forecast: Forecast, field: str, n: int, anchor: float, anchor_x) -> list[go.Scatter]:
    j = _field_index(forecast, field)
    x = [anchor_x, *_wall(forecast.timestamps)]
    n = min(int(n), forecast.paths.shape[0])
    if n <= 0:
        return []
    # One trace with None separators: hundreds of paths stay cheap to draw. Each point carries its
    # path's number (as in the paths download) for the hover text.
    xs, ys, ids = [], [], []
    for i in range(n):
        xs += [*x, None]
        ys += [anchor, *forecast.paths[i, :, j].tolist(), None]
        ids += [i] * len(x) + [None]
    return [go.Scatter(x=xs, y=ys, mode="lines", line=dict(width=1, color=PATHS), name=f"{n} sample paths",
                       legendgroup="paths", connectgaps=False, customdata=ids,
                       hovertemplate=f"path %{{customdata}}<br>%{{x|%Y-%m-%d %H:%M}}<br>{field} "
                                     f"%{{y:{_fmt(field, forecast.history)}}}<extra></extra>")]


def _gap_trace(forecast: Forecast, history: pd.DataFrame, start) -> go.Scatter:
    """Dotted connector from the last close to the median open of the first forecast bar: the jump the
    model makes before its first step, with the gap in % in the legend and the hover text."""
    last = float(history["close"].iloc[-1])
    first_open = float(np.median(forecast.paths[:, 0, list(forecast.columns).index("open")]))
    gap = first_open / last - 1 if last else float("nan")
    d = _decimals(history)
    text = [f"last close {last:,.{d}f}",
            f"first bar: median open {first_open:,.{d}f}<br>gap {gap:+.2%} vs the last close {last:,.{d}f}"]
    return go.Scatter(x=[start, _wall(forecast.timestamps)[0]], y=[last, first_open], mode="lines+markers",
                      name=f"first-step gap {gap:+.2%}", line=dict(color=GAP, width=1.5, dash="dot"),
                      marker=dict(size=[0, 9], symbol="circle-open", color=GAP, line=dict(width=2)),
                      text=text, hovertemplate="%{text}<extra></extra>", legendgroup="gap")


def _actual_trace(actual: pd.DataFrame, field: str, showlegend: bool = True) -> go.Scatter:
    return go.Scatter(x=_wall(actual["timestamp"]), y=actual[field], mode="lines+markers",
                      line=dict(color=ACTUAL, width=1.5), marker=dict(size=3), name=f"actual {field}",
                      legendgroup="actual", showlegend=showlegend)


def _events_in_range(events: Iterable[Event] | None, start, end) -> list[tuple[pd.Timestamp, str]]:
    out = []
    for item in events or ():
        ts, label = item[0], str(item[1])
        t = pd.Timestamp(ts)
        t = t.tz_localize(None) if t.tzinfo is not None else t
        if start <= t <= end:
            out.append((t, label))
    return out


def _add_vline(fig: go.Figure, x, label: str, color: str, dash: str, row=None, col=None, y=1.0) -> None:
    xref, yref = "x", "y domain"
    if row is not None:
        axis = "" if col in (None, 1) else str(col)
        xref, yref = f"x{axis}", f"y{axis} domain"
    fig.add_shape(type="line", x0=x, x1=x, y0=0, y1=1, xref=xref, yref=yref,
                  line=dict(color=color, width=1, dash=dash))
    if label:
        fig.add_annotation(x=x, y=y, xref=xref, yref=yref, text=label, showarrow=False, xanchor="left",
                           yanchor="top", font=dict(size=11, color=color), bgcolor="rgba(255,255,255,0.7)",
                           textangle=0)


# Labels are placed for a phone-wide plot (they then clear each other on any wider one too).
LABEL_PLOT_PX, LABEL_CHAR_PX, LABEL_PAD_PX = 290, 6.6, 10
LABEL_ROWS, LABEL_TOP, LABEL_STEP = 4, 0.99, 0.075  # rows of labels, from the top of the plot down


def label_rows(positions: Sequence[float], widths: Sequence[float], rows: int = LABEL_ROWS) -> list[int | None]:
    """Row (0 = top) for each left-anchored label at ``positions`` with ``widths`` (same units): the first
    row whose previous label ends before this one starts; None when every row is taken (label thinned)."""
    ends = [-math.inf] * rows
    out: list[int | None] = [None] * len(positions)
    for i in sorted(range(len(positions)), key=lambda k: positions[k]):
        row = next((r for r in range(rows) if ends[r] <= positions[i]), None)
        if row is not None:
            ends[row] = positions[i] + widths[i]
        out[i] = row
    return out


def _event_markers(fig: go.Figure, start, stamps: pd.DatetimeIndex, events: list[tuple[pd.Timestamp, str]],
                   bars_in_view: int) -> None:
    """The forecast-start line and one line per event, their labels staggered over up to LABEL_ROWS rows
    so that none overprints another at the opening view (a label with no free row is left out), and a
    hoverable marker at the top of every event line that names it (thinned labels included)."""
    items = [(start, "forecast start", "#222", "dot"), *((t, label, EVENT, "dash") for t, label in events)]
    px_per_bar = LABEL_PLOT_PX / max(1, bars_in_view)
    positions = [float(stamps.searchsorted(pd.Timestamp(t))) for t, *_ in items]
    widths = [(len(label) * LABEL_CHAR_PX + LABEL_PAD_PX) / px_per_bar for _, label, *_ in items]
    for (t, label, color, dash), row in zip(items, label_rows(positions, widths)):
        _add_vline(fig, t, label if row is not None else "", color, dash, y=LABEL_TOP - LABEL_STEP * (row or 0))
    if events:  # on an axis of its own (0..1), so the markers sit at the top whatever the price range
        fig.add_trace(go.Scatter(x=[t for t, _ in events], y=[0.995] * len(events), yaxis="y2", mode="markers",
                                 marker=dict(symbol="triangle-down", size=9, color=EVENT), name="events",
                                 text=[label for _, label in events], showlegend=False, meta={"fit_y": False},
                                 hovertemplate="%{text}<br>%{x|%Y-%m-%d %H:%M}<extra></extra>"))
        fig.update_layout(yaxis2=dict(overlaying="y", range=[0, 1], visible=False, fixedrange=True))


def _anchor(history: pd.DataFrame, field: str) -> tuple[float, pd.Timestamp]:
    return float(history[field].iloc[-1]), _wall(history["timestamp"])[-1]


def _xs(values) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(pd.Series(list(values), dtype=object), errors="coerce"))


def _set_window(fig: go.Figure, history: pd.DataFrame, forecast: Forecast, bars: int | None = None) -> int:
    """Open the x axis on the last ``bars`` history bars (default ``initial_window``) plus the forecast,
    half a bar of margin each side; returns the bars in view."""
    horizon = len(forecast.timestamps)
    n = min(len(history), initial_window(horizon) if bars is None else bars)
    shown = _wall(pd.DatetimeIndex(list(history["timestamp"].iloc[-n:]) + list(forecast.timestamps)))
    half = pd.Series(shown).diff().dropna().median() / 2 if len(shown) > 1 else pd.Timedelta(0)
    fig.update_xaxes(range=[shown[0] - half, shown[-1] + half])
    return n + horizon


def fit_y_range(fig: go.Figure, pad: float = 0.06) -> None:
    """Set the price axis to what the traces hold inside the x range (plotly would scale it to the whole
    history, out of view): call again after adding traces. Bars (volume) keep their zero."""
    rng = fig.layout.xaxis.range
    if rng is None:
        return
    x0, x1 = pd.Timestamp(rng[0]), pd.Timestamp(rng[1])
    lows, highs, floor = [], [], None
    for tr in fig.data:
        if isinstance(tr.meta, dict) and tr.meta.get("fit_y") is False or tr.visible is False or tr.x is None:
            continue
        if tr.type != "candlestick" and tr.y is None:
            continue
        x = _xs(tr.x)
        inside = np.asarray((x >= x0) & (x <= x1))
        if not inside.any():
            continue
        if tr.type == "candlestick":
            lo, hi = np.asarray(tr.low, float)[inside], np.asarray(tr.high, float)[inside]
        else:
            lo = hi = pd.to_numeric(pd.Series(list(tr.y), dtype=object), errors="coerce").to_numpy(float)[inside]
            if tr.type == "bar":
                floor = 0.0
        if np.isfinite(lo).any():
            lows.append(np.nanmin(lo))
            highs.append(np.nanmax(hi))
    if not lows:
        return
    lo, hi = min(lows), max(highs)
    span = hi - lo if hi > lo else max(abs(hi) * 0.01, 1e-9)
    # the first price axis; the grid's other subplots match it
    fig.layout.yaxis.range = [floor if floor is not None else lo - pad * span, hi + pad * span]


def _wrap_title(title: str, width: int = TITLE_CHARS) -> str:
    """Break a long title after its last ", " (or before " — ") within ``width`` characters."""
    if len(title) <= width or "<br>" in title:
        return title
    comma, dash = title.rfind(", ", 0, width), title.rfind(" — ", 0, width)
    if max(comma, dash) <= 0:
        return title
    head, tail = (title[:comma + 1], title[comma + 2:]) if comma > dash else (title[:dash], title[dash + 3:])
    return f"{head}<br>{_wrap_title(tail, width)}"


def _top_margin(title: str | None) -> int:
    """The modebar's strip, then the title's lines: the toolbar never sits on the title."""
    return MODEBAR_PX + (title.count("<br>") + 1) * 24 + 12 if title else MODEBAR_PX + 6


def fan_chart(forecast: Forecast, field: str = "close", band: Sequence[float] = BAND, *,
              paths: int = 0, events: Iterable[Event] | None = None, actual: pd.DataFrame | None = None,
              history_bars: int | None = None, window: int | None = None, title: str | None = None,
              currency: str = "", height: int = 540,
              members: Sequence[tuple[str, np.ndarray]] | None = None) -> go.Figure:
    """History as candlesticks (hollow up, filled down; bars for volume), the ``band`` of ``field`` as a
    shaded fan with its p50 line, optional faint sample paths (hover: path number and value), the
    first-step gap (last close to the first bar's median open), a marker at the forecast start,
    labelled event lines (``events``: (timestamp, label) pairs), optional actual bars (backtests).
    ``members`` ((legend label, paths) of an ensemble's members) are drawn thinly behind the fan, each
    with its median and the same band.

    The chart opens on ``window`` history bars (default ``initial_window``: the forecast keeps 40%+ of
    the width) with the price axis fitted to them; ``history_bars`` (default all the forecast's
    history) stay reachable by zooming out. ``currency`` names the price axis's unit ("" when unknown).
    The legend sits under the plot and the modebar above the title (no overlap on a phone)."""
    history = forecast.history if history_bars is None else forecast.history.tail(history_bars)
    anchor, start = _anchor(history, field)
    fig = go.Figure()
    for tr in _history_traces(history, field):
        fig.add_trace(tr)
    for tr in _member_traces(forecast, members or (), field, band, anchor, start):
        fig.add_trace(tr)
    for tr in _path_traces(forecast, field, paths, anchor, start):
        fig.add_trace(tr)
    for tr in _fan_traces(forecast, field, band, anchor, start, with_x=True):
        fig.add_trace(tr)
    withheld = volume_withheld(forecast, field)
    if withheld:  # said on the chart where the fan would be, not drawn as a median of 0 or one number
        # narrow and below the top, at the right: over the forecast's bars, clear of the forecast start's label
        fig.add_annotation(text="<br>".join(textwrap.wrap(withheld, 38)), xref="paper", yref="paper", x=0.99, y=0.9,
                           xanchor="right", yanchor="top", showarrow=False, align="left",
                           bgcolor="rgba(255, 243, 205, 0.92)", bordercolor="#b08900", borderwidth=1,
                           font=dict(size=12, color="#5c4400"), name="volume_withheld")
    if field != "volume":
        fig.add_trace(_gap_trace(forecast, history, start))
    if actual is not None and len(actual):
        fig.add_trace(_actual_trace(actual, field))
    fig.add_trace(go.Scatter(x=[start], y=[anchor], mode="markers", name="forecast start",
                             marker=dict(symbol="diamond", size=9, color="#222"),
                             hovertemplate=f"forecast start<br>%{{x}}<br>last {field} "
                                           f"%{{y:{_fmt(field, history)}}}<extra></extra>"))
    stamps = _wall(pd.DatetimeIndex(list(history["timestamp"]) + list(forecast.timestamps)))
    in_view = _set_window(fig, history, forecast, window)
    _event_markers(fig, start, stamps, _events_in_range(events, stamps[0], stamps[-1]), in_view)
    _finish(fig, stamps, field, title, currency, height, _fmt(field, history))
    return fig


def _finish(fig: go.Figure, stamps: pd.DatetimeIndex, field: str, title: str | None, currency: str,
            height: int, hoverformat: str) -> None:
    """Axes, title, legend and size as every single-series chart has them; the price axis fitted, its
    hover (the candles' open/high/low/close) at ``hoverformat``."""
    fig.update_xaxes(rangebreaks=_rangebreaks(stamps), rangeslider_visible=False)
    unit = f" ({currency})" if currency and field != "volume" else ""
    fig.update_yaxes(title_text=field + unit, tickformat=",.0f" if field == "volume" else None,
                     hoverformat=hoverformat)
    title = _wrap_title(title) if title else None
    fig.update_layout(title=dict(text=title, yref="container", y=1, yanchor="top", pad=dict(t=MODEBAR_PX))
                      if title else None, height=height, hovermode="closest", template="plotly_white",
                      margin=dict(l=10, r=10, t=_top_margin(title), b=10),
                      legend=dict(orientation="h", yanchor="top", y=-0.1, xanchor="left", x=0))
    fit_y_range(fig)


def history_title(label: str, bars: int, horizon: int) -> str:
    """The history chart's title, naming the bars it opens on (``initial_window``) among the ``bars`` the
    model reads: "AAPL 1d: the last 30 of the 98 bars the model reads"."""
    shown = min(initial_window(horizon), bars)
    return (f"{label}: the {bars} bars the model reads" if shown == bars else
            f"{label}: the last {shown} of the {bars} bars the model reads")


def history_chart(history: pd.DataFrame, horizon: int, *, title: str | None = None, currency: str = "",
                  height: int = 540) -> go.Figure:
    """The bars a forecast will read, before there is one: candlesticks as the fan chart draws them, in
    its opening window (``initial_window``) with room on the right for ``horizon`` bars, the forecast
    start marked. Nothing but the candles is a trace: the fan and its markers come with the forecast."""
    fig = go.Figure(_history_traces(history, "close"))
    stamps = _wall(history["timestamp"])
    shown = stamps[-min(initial_window(horizon), len(stamps)):]
    step = pd.Series(shown).diff().dropna().median() if len(shown) > 1 else pd.Timedelta(days=1)
    fig.update_xaxes(range=[shown[0] - step / 2, shown[-1] + step * (horizon + 0.5)])
    _add_vline(fig, stamps[-1], "forecast start", "#222", "dot", y=LABEL_TOP)
    _finish(fig, stamps, "close", title, currency, height, _fmt("close", history))
    return fig


def compare_grid(forecasts: Mapping[str, Forecast], field: str = "close", band: Sequence[float] = BAND, *,
                 actual: pd.DataFrame | None = None, events: Iterable[Event] | None = None,
                 history_bars: int | None = 80, subtitles: Mapping[str, str] | None = None,
                 height: int = 460) -> go.Figure:
    """Small multiples, one fan per model, side by side with shared x and y axes, opening on the same
    window as the fan chart."""
    names = list(forecasts)
    if not names:
        raise ValueError("compare_grid needs at least one forecast")
    titles = [f"{n}<br><sub>{subtitles[n]}</sub>" if subtitles and n in subtitles else n for n in names]
    fig = make_subplots(rows=1, cols=len(names), shared_yaxes=True, horizontal_spacing=0.02,
                        subplot_titles=titles)
    stamps = []
    for c, name in enumerate(names, start=1):
        fc = forecasts[name]
        history = fc.history if history_bars is None else fc.history.tail(history_bars)
        anchor, start = _anchor(history, field)
        first = c == 1
        for tr in _history_traces(history, field, showlegend=first):
            fig.add_trace(tr, row=1, col=c)
        for tr in _fan_traces(fc, field, band, anchor, start, showlegend=first):
            fig.add_trace(tr, row=1, col=c)
        if actual is not None and len(actual):
            fig.add_trace(_actual_trace(actual, field, showlegend=first), row=1, col=c)
        _add_vline(fig, start, "", "#222", "dot", row=1, col=c)
        for t, label in _events_in_range(events, _wall(history["timestamp"])[0], _wall(fc.timestamps)[-1]):
            _add_vline(fig, t, label, EVENT, "dash", row=1, col=c, y=0.95)
        stamps += list(history["timestamp"]) + list(fc.timestamps)
    fig.update_xaxes(matches="x", rangebreaks=_rangebreaks(_wall(pd.DatetimeIndex(stamps))),
                     rangeslider_visible=False)
    first = forecasts[names[0]]
    _set_window(fig, first.history if history_bars is None else first.history.tail(history_bars), first)
    # The legend under the tick labels' second line (the date under the times): on it, it hid the first
    # subplot's dates, and the shared axis read as another one there
    fig.update_layout(height=height, hovermode="x unified", template="plotly_white",
                      margin=dict(l=10, r=10, t=MODEBAR_PX + 44, b=10),
                      legend=dict(orientation="h", yanchor="top", y=GRID_LEGEND_Y, xanchor="left", x=0))
    fit_y_range(fig)  # over every subplot's traces: they share one price axis
    return fig


def overlay_chart(forecasts: Mapping[str, Forecast], field: str = "close", band: Sequence[float] = BAND, *,
                  actual: pd.DataFrame | None = None, history_bars: int | None = 80, currency: str = "",
                  height: int = 480) -> go.Figure:
    """Every model's band and median on one chart, one colour per model (Okabe-Ito), one legend entry per
    model that shows or hides its band and median together. The history drawn is the first model's
    (the Compare page gives every model the same bars)."""
    names = list(forecasts)
    if not names:
        raise ValueError("overlay_chart needs at least one forecast")
    first = forecasts[names[0]]
    history = first.history if history_bars is None else first.history.tail(history_bars)
    fig = go.Figure(_history_traces(history, field))
    lo_name, hi_name = (level_name(b) for b in sorted(band))
    fmt = _fmt(field, history)
    for i, name in enumerate(names):
        fc, color = forecasts[name], MODEL_COLORS[i % len(MODEL_COLORS)]
        if volume_withheld(fc, field):  # no fan of a volume that is not a forecast
            continue
        anchor, start = _anchor(fc.history, field)
        lo, mid, hi = _band(fc, field, band)
        x = [start, *_wall(fc.timestamps)]
        fig.add_trace(go.Scatter(x=x, y=[anchor, *lo], mode="lines", line=dict(width=0.8, color=_rgba(color, 0.6)),
                                 name=f"{name} {lo_name}", legendgroup=name, showlegend=False,
                                 hovertemplate=f"{name} {lo_name} %{{y:{fmt}}}<extra></extra>"))
        fig.add_trace(go.Scatter(x=x, y=[anchor, *hi], mode="lines", line=dict(width=0.8, color=_rgba(color, 0.6)),
                                 fill="tonexty", fillcolor=_rgba(color, 0.14), name=f"{name} {hi_name}",
                                 legendgroup=name, showlegend=False,
                                 hovertemplate=f"{name} {hi_name} %{{y:{fmt}}}<extra></extra>"))
        fig.add_trace(go.Scatter(x=x, y=[anchor, *mid], mode="lines", line=dict(width=2.5, color=color),
                                 name=f"{name}: p50, {lo_name}–{hi_name}", legendgroup=name,
                                 hovertemplate=f"{name} p50 %{{y:{fmt}}}<extra></extra>"))
    if actual is not None and len(actual):
        fig.add_trace(_actual_trace(actual, field))
    _, start = _anchor(history, field)
    _add_vline(fig, start, "", "#222", "dot")
    stamps = _wall(pd.DatetimeIndex(list(history["timestamp"]) + list(first.timestamps)))
    _set_window(fig, history, first)
    fig.update_xaxes(rangebreaks=_rangebreaks(stamps), rangeslider_visible=False)
    unit = f" ({currency})" if currency and field != "volume" else ""
    fig.update_yaxes(title_text=field + unit)
    fig.update_layout(height=height, hovermode="x unified", template="plotly_white",
                      margin=dict(l=10, r=10, t=MODEBAR_PX + 6, b=10),
                      legend=dict(orientation="h", yanchor="top", y=-0.1, xanchor="left", x=0))
    fit_y_range(fig)
    return fig


# --- trust panel ----------------------------------------------------------------------------------
TRUST_COLORS = ("#1f77b4", "#7f7f7f", "#bcbd22", "#17becf", "#ff7f0e", "#2ca02c")


def coverage_chart(coverage: pd.DataFrame, nominal: float, *, title: str | None = None,
                   height: int = 360) -> go.Figure:
    """Band coverage per horizon step (one line per column of ``coverage``, index = step) against the
    nominal level; the first column is drawn bold (the model being judged)."""
    fig = go.Figure()
    for i, name in enumerate(coverage.columns):
        dashed = name.startswith("held-out")
        fig.add_trace(go.Scatter(x=coverage.index.tolist(), y=coverage[name].tolist(), mode="lines+markers", name=name,
                                 line=dict(width=3 if i == 0 else 1.5, color=TRUST_COLORS[i % len(TRUST_COLORS)],
                                           dash="dot" if dashed else None),
                                 marker=dict(size=4), hovertemplate=f"{name}<br>step %{{x}}: %{{y:.0%}}<extra></extra>"))
    fig.add_hline(y=nominal, line=dict(color="#d62728", dash="dash", width=1.5),
                  annotation_text=f"nominal {nominal:.0%}", annotation_position="top left")
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", title_text="actual inside the band")
    fig.update_xaxes(title_text="horizon step (bars ahead)")
    # The legend sits under the x-axis title (at y=-0.2 it covered the title); the figure grows to hold it.
    fig.update_layout(title=title, height=height + 60, template="plotly_white", hovermode="x unified",
                      margin=dict(l=10, r=10, t=60 if title else 30, b=10),
                      legend=dict(orientation="h", yanchor="top", y=-0.3, xanchor="left", x=0))
    return fig


def pit_chart(edges: np.ndarray, shares: np.ndarray, *, title: str | None = None, height: int = 320) -> go.Figure:
    """PIT histogram: flat at 1/bins when the fan is calibrated; U-shaped when it is too narrow,
    hump-shaped when too wide, tilted when biased."""
    centres = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure(go.Bar(x=centres.tolist(), y=np.asarray(shares).tolist(), width=(np.diff(edges) * 0.95).tolist(), marker_color=FAN.format(a=0.7),
                           name="PIT", hovertemplate="PIT %{x:.2f}: %{y:.1%} of actuals<extra></extra>"))
    fig.add_hline(y=1 / len(shares), line=dict(color="#d62728", dash="dash", width=1.5),
                  annotation_text="calibrated", annotation_position="top left")
    fig.update_xaxes(range=[0, 1], title_text="where the actual fell among the paths (PIT)")
    fig.update_yaxes(tickformat=".0%", title_text="share of actuals")
    fig.update_layout(title=title, height=height, template="plotly_white", showlegend=False,
                      margin=dict(l=10, r=10, t=60 if title else 30, b=10))
    return fig


def track_record_chart(steps: pd.DataFrame, *, title: str | None = None, height: int = 520) -> go.Figure:
    """Past forecasts of one series as their fans (p10–p90 band and p50 from the last bar each saw), each
    forecast in its own colour (a model's forecasts share a line style), with the actual close on top,
    broken where no forecast spans the bars between two known closes. ``steps``: the forecast ledger's
    long table (``Ledger.steps_frame``) of the forecasts to draw, times in UTC; drawn in the series' wall
    clock (dates only for daily and longer bars)."""
    fig = go.Figure()
    zone = steps["timezone"].iloc[0] if len(steps) else "UTC"
    when = "%Y-%m-%d %H:%M" if not len(steps) or is_intraday(steps["interval"].iloc[0]) else "%Y-%m-%d"

    def wall(values) -> pd.DatetimeIndex:
        return _wall(pd.DatetimeIndex(pd.to_datetime(values, utc=True)).tz_convert(zone))

    models = sorted(steps["model"].unique()) if len(steps) else []
    dashes = {m: DASHES[i % len(DASHES)] for i, m in enumerate(models)}
    for k, (pid, one) in enumerate(steps.groupby("prediction_id", sort=False)):
        one = one.sort_values("step")
        model, color = one["model"].iloc[0], FORECAST_COLORS[k % len(FORECAST_COLORS)]
        anchor_x, anchor = wall([one["last_bar_at"].iloc[0]])[0], float(one["last_close"].iloc[0])
        x = [anchor_x, *wall(one["timestamp"])]
        name = f"#{pid} {model}"
        made = f"forecast #{pid} by {model}, made at the bar of %{{customdata|{when}}}"
        common = dict(mode="lines", legendgroup=f"forecast {pid}", customdata=[anchor_x] * len(x))
        fig.add_trace(go.Scatter(x=x, y=[anchor, *one["close_p10"]], line=dict(width=0.5, color=_rgba(color, 0.5)),
                                 showlegend=False, name=f"{name}: p10", hoverinfo="skip", **common))
        fig.add_trace(go.Scatter(x=x, y=[anchor, *one["close_p90"]], line=dict(width=0.5, color=_rgba(color, 0.5)),
                                 fill="tonexty", fillcolor=_rgba(color, 0.12), showlegend=True,
                                 name=f"{name}: {BAND_NAME}", hoverinfo="skip", **common))
        fig.add_trace(go.Scatter(x=x, y=[anchor, *one["close_p50"]], line=dict(width=1.5, color=color,
                                                                               dash=dashes[model]),
                                 showlegend=False, name=f"{name}: p50",
                                 hovertemplate=f"{made}<br>p50 %{{y:,.2f}} at %{{x|{when}}}<extra></extra>",
                                 **common))
    known = steps.dropna(subset=["actual_close"]) if "actual_close" in steps else steps.iloc[:0]
    if len(known):  # no actual close arrived yet: no line and no legend entry for it
        actual = pd.concat([pd.DataFrame({"t": known["bar_time"], "close": known["actual_close"]}),
                            pd.DataFrame({"t": steps["last_bar_at"], "close": steps["last_close"]})])
        actual = actual.dropna().drop_duplicates("t").sort_values("t")
        t = pd.DatetimeIndex(pd.to_datetime(actual["t"], utc=True))
        spans = known.groupby("prediction_id").agg(start=("last_bar_at", "first"), end=("bar_time", "max"))
        starts, ends = (pd.DatetimeIndex(pd.to_datetime(spans[c], utc=True)).asi8 for c in ("start", "end"))
        # Two known closes are joined only where one forecast's scored bars run from one to the other:
        # between forecasts months apart the bars in between are unknown, not a straight line.
        joined = [bool(((starts <= a) & (ends >= b)).any()) for a, b in zip(t.asi8[:-1], t.asi8[1:])]
        x, y = [], []
        for j, (xi, yi) in enumerate(zip(wall(t), actual["close"])):
            if j and not joined[j - 1]:
                x.append(None)
                y.append(None)
            x.append(xi)
            y.append(yi)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name="actual close", connectgaps=False,
                                 line=dict(color=ACTUAL, width=2), marker=dict(size=4), legendgroup="actual",
                                 hovertemplate=f"actual close %{{y:,.2f}}<br>%{{x|{when}}}<extra></extra>"))
    stamps = wall(pd.concat([steps["timestamp"], steps["last_bar_at"], known["bar_time"]])).sort_values()
    fig.update_xaxes(rangebreaks=_rangebreaks(stamps.unique()), rangeslider_visible=False)
    fig.update_yaxes(title_text="close")
    title = _wrap_title(title) if title else None
    fig.update_layout(title=dict(text=title, yref="container", y=1, yanchor="top", pad=dict(t=MODEBAR_PX))
                      if title else None, height=height, hovermode="closest", template="plotly_white",
                      margin=dict(l=10, r=10, t=_top_margin(title), b=10),
                      legend=dict(orientation="h", yanchor="top", y=-0.1, xanchor="left", x=0))
    return fig


def risk_histogram(returns: np.ndarray, marks: Sequence[tuple[str, float]], *, title: str | None = None,
                   height: int = 320) -> go.Figure:
    """The paths' horizon returns as a histogram, with each (label, return) of ``marks`` (a VaR, an ES, as the
    return where a position's loss reaches it) as a vertical line."""
    fig = go.Figure(go.Histogram(x=np.asarray(returns, np.float64).tolist(), nbinsx=60, marker_color=FAN.format(a=0.7),
                                 name="paths", hovertemplate="return %{x:.2%}: %{y} paths<extra></extra>"))
    for i, (label, x) in enumerate(marks):
        if np.isfinite(x):
            _add_vline(fig, x, label, TRUST_COLORS[(i + 1) % len(TRUST_COLORS)], "dash" if "ES" in label else "solid",
                       y=1.0 - 0.08 * (i % 4))
    fig.update_xaxes(tickformat=".1%", title_text="return of the close over the horizon")
    fig.update_yaxes(title_text="paths")
    fig.update_layout(title=title, height=height, template="plotly_white", showlegend=False, bargap=0.02,
                      margin=dict(l=10, r=10, t=60 if title else 30, b=10))
    return fig


def volatility_chart(readings: pd.DataFrame, *, title: str | None = None, height: int = 320) -> go.Figure:
    """Per-bar volatility by method and source (the paths' with their interval across paths, the models', the
    history's): one horizontal bar each."""
    labels = [f"{r.method} ({r.source})" for r in readings.itertuples()]
    colors = {"paths": FAN.format(a=0.8), "model": TRUST_COLORS[4], "history": "#7f7f7f"}
    low = readings["low"].astype(float).to_numpy()
    high = readings["high"].astype(float).to_numpy()
    per_bar = readings["per_bar"].astype(float).to_numpy()
    fig = go.Figure(go.Bar(
        y=labels, x=per_bar.tolist(), orientation="h", marker_color=[colors.get(s, "#999") for s in readings["source"]],
        error_x=dict(type="data", symmetric=False, array=np.nan_to_num(high - per_bar).tolist(),
                     arrayminus=np.nan_to_num(per_bar - low).tolist()),
        hovertemplate="%{y}: %{x:.2%} per bar<extra></extra>"))
    fig.update_xaxes(tickformat=".2%", title_text="volatility of a bar's log-return")
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(title=title, height=height, template="plotly_white", showlegend=False,
                      margin=dict(l=10, r=10, t=60 if title else 30, b=10))
    return fig


def exceptions_chart(frame: pd.DataFrame, position: str, level: float, *, title: str | None = None,
                     height: int = 340) -> go.Figure:
    """A risk backtest's cut-offs: the realized loss of ``position`` against the ``level`` VaR forecast for it,
    each exception (loss beyond the VaR) marked."""
    tag = f"{position}_{level:g}"
    x = _xs(frame["cutoff_time"])
    loss, var = frame[f"loss_{position}"].to_numpy(float), frame[f"var_{tag}"].to_numpy(float)
    hit = frame[f"exception_{tag}"].to_numpy(bool)
    fig = go.Figure([
        go.Scatter(x=x, y=loss.tolist(), mode="lines", name="realized loss", line=dict(color="#7f7f7f", width=1)),
        go.Scatter(x=x, y=var.tolist(), mode="lines", name=f"VaR {level:g}", line=dict(color=TRUST_COLORS[0], width=2)),
        go.Scatter(x=x[hit], y=loss[hit].tolist(), mode="markers", name="exception",
                   marker=dict(color="#d62728", size=8, symbol="x"))])
    fig.update_yaxes(tickformat=".1%", title_text=f"loss of a {position} position")
    title = _wrap_title(title) if title else None  # a long title on lines of its own, room made above the plot
    fig.update_layout(title=title, height=height + (title.count("<br>") * 24 if title else 0), template="plotly_white",
                      hovermode="x unified", margin=dict(l=10, r=10, t=_top_margin(title), b=10),
                      legend=dict(orientation="h", yanchor="top", y=-0.2, xanchor="left", x=0))
    return fig
