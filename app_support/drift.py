"""Drift on the Track record page: the drift of each model on a series (``Desk.drift`` judges it and says its
thresholds; ``desk.ledger_tables.drift_table`` words it), and its rolling coverage and skill as a chart with the
thresholds."""
from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from kronos.quantiles import BAND_NAME
from kronos_studio.desk import Drifted, DriftRequest, DriftThresholds

from .charts import MODEL_COLORS
from .forecasts import desk


def series_drift(book, series: tuple[str, str, str], models, experiments: bool = False) -> Drifted:
    """The drift of ``models`` on one (source, symbol, interval) of the session's ledger ``book``."""
    source, symbol, interval = series
    request = DriftRequest(source=source, symbol=symbol, interval=interval, models=tuple(models),
                           include_experiments=experiments)
    return desk(computing=False).drift(request, ledger=book)


def drift_chart(drift, t: DriftThresholds, height: int = 460) -> go.Figure:
    """Rolling first-bar coverage of a ``Drift`` (top) with the nominal line and the band the binomial test accepts at
    the thresholds' ``alpha``, and rolling CRPS skill against the random walk (bottom) with its zero line, per
    forecast."""
    r = drift.rolling.dropna(subset=["coverage"])
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1,
                        subplot_titles=(f"{BAND_NAME} coverage of the first bar, last {_window(drift)} forecasts",
                                        "CRPS skill against the random walk"))
    x = r["last_bar_at"].dt.tz_convert("UTC").dt.tz_localize(None)  # drawn as UTC, as the axis says
    fig.add_trace(go.Scatter(x=x, y=r["coverage_high"], mode="lines", line=dict(width=1, dash="dot", color="#7f7f7f"),
                             name=f"accepted at p ≥ {t.alpha:g}", legendgroup="band", showlegend=False), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=r["coverage_low"], mode="lines", line=dict(width=1, dash="dot", color="#7f7f7f"),
                             fill="tonexty", fillcolor="rgba(127,127,127,0.12)", legendgroup="band",
                             name=f"accepted by the binomial test (p ≥ {t.alpha:g})"), row=1, col=1)
    fig.add_hline(y=t.nominal, line=dict(width=1, dash="dash", color="#2ca02c"), row=1, col=1,
                  annotation_text=f"nominal {t.nominal:.0%}", annotation_position="top left")
    fig.add_trace(go.Scatter(x=x, y=r["coverage"], mode="lines+markers", marker=dict(size=4),
                             line=dict(color=MODEL_COLORS[0], width=2), name="coverage"), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=r["skill"], mode="lines+markers", marker=dict(size=4),
                             line=dict(color=MODEL_COLORS[1], width=2), name="skill"), row=2, col=1)
    fig.add_hline(y=0, line=dict(width=1, dash="dash", color="#d62728"), row=2, col=1,
                  annotation_text="random walk", annotation_position="bottom left")
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02], row=1, col=1)
    fig.update_yaxes(tickformat="+.0%", row=2, col=1)
    fig.update_xaxes(title_text="last bar the forecast saw (UTC)", row=2, col=1)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=60, b=10), hovermode="x unified",
                      legend=dict(orientation="h", y=-0.18), title=f"{drift.symbol} {drift.interval} · {drift.model}")
    return fig


def _window(drift) -> int:
    counts = drift.rolling["forecasts"]
    return int(counts.max()) if len(counts) else 0
