"""Plotly figures built from Forecast objects: the fan chart and the model-comparison grid.

Library code (no Streamlit): every function takes a Forecast (or several) and returns a
``plotly.graph_objects.Figure``. Timestamps are drawn in the market's wall clock (tz dropped,
because plotly.js ignores UTC offsets), and nights/weekends the data never trades are hidden.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

if TYPE_CHECKING:  # keep this module importable without torch
    from .forecast import Forecast

FIELDS = ("close", "high", "low", "volume")
FAN = "rgba(31, 119, 180, {a})"
PATHS = "rgba(31, 119, 180, 0.18)"
ACTUAL = "#d62728"
EVENT = "#7f7f7f"
Event = tuple  # (timestamp-like, label)


def level_name(level: float) -> str:
    """0.1 -> 'p10', 0.025 -> 'p2.5' (same names as Forecast.quantiles columns)."""
    return f"p{round(level * 100, 6):g}"


def _wall(ts) -> pd.DatetimeIndex:
    idx = pd.DatetimeIndex(pd.to_datetime(ts))
    return idx.tz_localize(None) if idx.tz is not None else idx


def _field_index(forecast: Forecast, field: str) -> int:
    if field not in FIELDS:
        raise ValueError(f"field must be one of {FIELDS}, got {field!r}")
    return list(forecast.columns).index(field)


def _band(forecast: Forecast, field: str, band: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo, hi = sorted(float(b) for b in band)
    if not 0 <= lo < hi <= 1:
        raise ValueError(f"band must be two levels with 0 <= low < high <= 1, got {band}")
    q = np.quantile(forecast.paths[:, :, _field_index(forecast, field)], [lo, 0.5, hi], axis=0)
    return q[0], q[1], q[2]


def _rangebreaks(stamps: pd.DatetimeIndex) -> list[dict]:
    """Hide weekends and overnight hours that never hold a bar (keeps candles contiguous)."""
    if len(stamps) < 3:
        return []
    breaks = []
    if not (stamps.day_of_week >= 5).any():
        breaks.append(dict(bounds=["sat", "mon"]))
    step = pd.Series(stamps).diff().dropna().min()
    if step is not None and step < pd.Timedelta(hours=12):
        tod = (stamps - stamps.normalize()) / pd.Timedelta(hours=1)
        half = step / pd.Timedelta(hours=1) / 2  # candles are one step wide: keep half a step each side
        first, last = float(tod.min() - half), float(tod.max() + half)
        if first > 0 and last < 24 and last - first < 23:
            breaks.append(dict(pattern="hour", bounds=[last, first]))
    return breaks


def _history_traces(history: pd.DataFrame, field: str, showlegend: bool = True) -> list[go.BaseTraceType]:
    x = _wall(history["timestamp"])
    if field == "volume":
        return [go.Bar(x=x, y=history["volume"], name="volume", marker_color="rgba(120,120,120,0.6)",
                       showlegend=showlegend, legendgroup="history")]
    return [go.Candlestick(x=x, open=history["open"], high=history["high"], low=history["low"],
                           close=history["close"], name="history", showlegend=showlegend, legendgroup="history",
                           increasing_line_color="#26a69a", decreasing_line_color="#ef5350")]


def _fan_traces(forecast: Forecast, field: str, band: Sequence[float], anchor: float, anchor_x,
                showlegend: bool = True) -> list[go.Scatter]:
    lo, mid, hi = _band(forecast, field, band)
    x = [anchor_x, *_wall(forecast.timestamps)]
    lo_name, hi_name = (level_name(b) for b in sorted(band))
    fmt = ",.0f" if field == "volume" else ",.2f"
    return [
        go.Scatter(x=x, y=[anchor, *lo], mode="lines", line=dict(width=0.5, color=FAN.format(a=0.5)),
                   name=f"{field} {lo_name}", legendgroup="band", showlegend=False,
                   hovertemplate=f"{lo_name} %{{y:{fmt}}}<extra></extra>"),
        go.Scatter(x=x, y=[anchor, *hi], mode="lines", line=dict(width=0.5, color=FAN.format(a=0.5)),
                   fill="tonexty", fillcolor=FAN.format(a=0.22), name=f"{field} {lo_name}–{hi_name}",
                   legendgroup="band", showlegend=showlegend,
                   hovertemplate=f"{hi_name} %{{y:{fmt}}}<extra></extra>"),
        go.Scatter(x=x, y=[anchor, *mid], mode="lines", line=dict(width=2, color=FAN.format(a=1)),
                   name=f"{field} p50", legendgroup="p50", showlegend=showlegend,
                   hovertemplate=f"p50 %{{y:{fmt}}}<extra></extra>"),
    ]


def _path_traces(forecast: Forecast, field: str, n: int, anchor: float, anchor_x) -> list[go.Scatter]:
    j = _field_index(forecast, field)
    x = [anchor_x, *_wall(forecast.timestamps)]
    n = min(int(n), forecast.paths.shape[0])
    if n <= 0:
        return []
    # One trace with NaN separators: hundreds of paths stay cheap to draw.
    xs, ys = [], []
    for i in range(n):
        xs += [*x, None]
        ys += [anchor, *forecast.paths[i, :, j].tolist(), None]
    return [go.Scatter(x=xs, y=ys, mode="lines", line=dict(width=1, color=PATHS), name=f"{n} sample paths",
                       hoverinfo="skip", legendgroup="paths", connectgaps=False)]


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


def _anchor(history: pd.DataFrame, field: str) -> tuple[float, pd.Timestamp]:
    return float(history[field].iloc[-1]), _wall(history["timestamp"])[-1]


def fan_chart(forecast: Forecast, field: str = "close", band: Sequence[float] = (0.1, 0.9), *,
              paths: int = 0, events: Iterable[Event] | None = None, actual: pd.DataFrame | None = None,
              history_bars: int | None = 160, title: str | None = None, height: int = 540) -> go.Figure:
    """History as candlesticks (bars for volume), the ``band`` of ``field`` as a shaded fan with its
    p50 line, optional faint sample paths, a marker at the forecast start, vertical event markers
    with labels (``events``: (timestamp, label) pairs), and optional actual bars (backtests)."""
    history = forecast.history if history_bars is None else forecast.history.tail(history_bars)
    anchor, start = _anchor(history, field)
    fig = go.Figure()
    for tr in _history_traces(history, field):
        fig.add_trace(tr)
    for tr in _path_traces(forecast, field, paths, anchor, start):
        fig.add_trace(tr)
    for tr in _fan_traces(forecast, field, band, anchor, start):
        fig.add_trace(tr)
    if actual is not None and len(actual):
        fig.add_trace(_actual_trace(actual, field))
    fig.add_trace(go.Scatter(x=[start], y=[anchor], mode="markers", name="forecast start",
                             marker=dict(symbol="diamond", size=9, color="#222"),
                             hovertemplate=f"forecast start<br>%{{x}}<br>last {field} %{{y:,.2f}}<extra></extra>"))
    _add_vline(fig, start, "forecast start", "#222", "dot", y=0.99)
    end = _wall(forecast.timestamps)[-1]
    first = _wall(history["timestamp"])[0]
    for i, (t, label) in enumerate(_events_in_range(events, first, end)):
        _add_vline(fig, t, label, EVENT, "dash", y=0.92 - 0.07 * (i % 3))
    stamps = _wall(pd.DatetimeIndex(list(history["timestamp"]) + list(forecast.timestamps)))
    fig.update_xaxes(rangebreaks=_rangebreaks(stamps), rangeslider_visible=False)
    fig.update_yaxes(title_text=field, tickformat=",.0f" if field == "volume" else None)
    fig.update_layout(title=dict(text=title, y=0.98, yanchor="top") if title else None, height=height,
                      hovermode="x unified", template="plotly_white",
                      margin=dict(l=10, r=10, t=80 if title else 40, b=10),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0))
    return fig


def compare_grid(forecasts: Mapping[str, Forecast], field: str = "close", band: Sequence[float] = (0.1, 0.9), *,
                 actual: pd.DataFrame | None = None, events: Iterable[Event] | None = None,
                 history_bars: int | None = 80, subtitles: Mapping[str, str] | None = None,
                 height: int = 460) -> go.Figure:
    """Small multiples, one fan per model, side by side with shared x and y axes."""
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
    fig.update_layout(height=height, hovermode="x unified", template="plotly_white",
                      margin=dict(l=10, r=10, t=70, b=10),
                      legend=dict(orientation="h", yanchor="top", y=-0.08, xanchor="left", x=0))
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
    fig.update_layout(title=title, height=height, template="plotly_white", hovermode="x unified",
                      margin=dict(l=10, r=10, t=60 if title else 30, b=10),
                      legend=dict(orientation="h", yanchor="top", y=-0.2, xanchor="left", x=0))
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
