"""The Screener's "Does the ranking work?": the cross-sectional walk-forward of the current watchlist
(``kronos_studio.batch.rank_run``) under a progress bar, kept per session, and what the page draws of it:
the IC per date with its cumulative sum, the return per signal bucket, the IC against the path count, the
signals × statistics table with intervals beside the naive rankings, and the panel's downloads."""
from __future__ import annotations

import json
from dataclasses import dataclass

import plotly.graph_objects as go
import streamlit as st

from kronos.lazy import pd
from kronos.settings import knobs
from kronos_studio.desk import Entry, RankPlan, RankRequest, WatchlistError
from kronos_studio.desk.exports import csv_text, parquet_bytes
from kronos_studio.desk.rank_tables import rank_words
from kronos_studio.desk.watchlists import upload_names

from .charts import CHART_CONFIG
from .errors import app_message
from .forecasts import desk
from .knob_widgets import knob_controls
from .models import wait_for_torch
from .screener import RunSettings, changes

RESULT_KEY = "_rank_skill_run"  # session state: the latest RankRun
PATH_CHOICES = (1, 2, 5, 10, 20, 30, 50, 100)
# The rank plan's options drawn here with widgets of their own (the rest: one generated widget per knob)
OWN_WIDGETS = ("paths", "include_trained")
UP, DOWN, LINE = "#2a9d8f", "#e76f51", "#1f77b4"
TABLE_ROW_PX = 35  # Streamlit's row height: the table is drawn whole, without a scroll bar


@dataclass
class RankRun:
    watchlist: str  # what was evaluated, in words
    settings: RunSettings
    plan: RankPlan
    result: object  # kronos_studio.desk.Ranked


def plan_inputs() -> RankPlan:
    """The section's inputs: one widget per ``RankPlan`` knob (cut-offs, step, costs, ...), the path counts picked
    from ``PATH_CHOICES`` and the training-period switch (as on Evaluate)."""
    from . import trust

    drawn = [name for name in knobs(RankPlan) if name not in OWN_WIDGETS]
    c = st.columns(len(drawn) + 1)
    values = {}
    for where, name in zip(c, drawn):
        values |= knob_controls(where, RankPlan, "rk_", only=(name,), handed=False)
    paths = knobs(RankPlan)["paths"]
    counts = c[-1].multiselect(paths[1].label, PATH_CHOICES, list(paths[0]), key="rk_paths", help=paths[1].help)
    include = trust.include_trained_toggle("rk_include_trained")
    return RankPlan(**values, paths=tuple(counts) or paths[0], include_trained=bool(include))


def run(entries: list[Entry], settings: RunSettings, plan: RankPlan, watchlist: str, load: dict) -> RankRun:
    """``Desk.rank`` of ``entries`` under a progress bar (``load``: the gate's fixes and the files' calendar); raises
    what the desk raises."""
    from .auth import workspace

    wait_for_torch()  # torch imported and its threads set, as for a single forecast
    bar = st.progress(0.0, text=f"Loading {len(entries)} series and {settings.model_label}…")

    def progress(done: int, total: int) -> None:
        bar.progress(done / max(total, 1), text=f"Forecast {done} of {total} cut-off dates × path counts")

    try:  # the process's warm model, sampled date by date in this workspace's turns
        result = desk().rank(RankRequest(tuple(entries), settings.forecast, plan, model=settings.model_ref,
                                         fixes=tuple(load.get("fixes", ())), calendar=load.get("calendar")),
                             progress=progress, workspace=workspace())
    finally:
        bar.empty()
    out = RankRun(watchlist, settings, plan, result)
    st.session_state[RESULT_KEY] = out
    return out


def latest() -> RankRun | None:
    return st.session_state.get(RESULT_KEY)


def ic_chart(run_: RankRun, signal: str = "expected_log_return") -> go.Figure:
    """Rank IC per cut-off date (bars, green above 0) and its cumulative sum (line, right axis)."""
    ics = run_.result.ics(signal).dropna(subset=["rank_ic"])
    fig = go.Figure()
    fig.add_bar(x=ics["date"], y=ics["rank_ic"], name="rank IC", marker_color=[UP if v > 0 else DOWN for v in ics["rank_ic"]])
    cumulative = ics["rank_ic"].cumsum()
    fig.add_scatter(x=ics["date"], y=cumulative, name="cumulative", yaxis="y2", line_color=LINE)
    bars_range, line_range = shared_zero_ranges(ics["rank_ic"], cumulative)
    fig.update_layout(title=f"Rank IC per date ({run_.plan.paths[-1]} paths)",
                      yaxis={"title": "rank IC (bars)", "range": bars_range},
                      yaxis2={"title": "cumulative (line)", "overlaying": "y", "side": "right", "showgrid": False,
                              "tickformat": ".2f", "range": line_range, "zeroline": False},
                      height=340, margin={"t": 60, "b": 30}, showlegend=False)
    return fig


def shared_zero_ranges(*series, pad: float = 0.08) -> list[list[float]]:
    """One axis range per series (each including 0) with 0 at the same height on all of them: two overlaid
    axes read against one zero line (a cumulative line below it is below 0 on its own axis too)."""
    spans = []
    for values in series:
        v = pd.to_numeric(pd.Series(values), errors="coerce").dropna()
        spans.append((max(0.0, -float(v.min())) if len(v) else 0.0, max(0.0, float(v.max())) if len(v) else 0.0))
    # zero's height from the bottom: the largest share any axis needs below it, so every axis fits (at most
    # 0.9: an axis all below 0 beside one above it still keeps room for the other's positive part)
    share = min(0.9, max((neg / (neg + pos) for neg, pos in spans if neg + pos > 0), default=0.5))
    out = []
    for neg, pos in spans:
        length = max(neg / share if share > 0 else 0.0, pos / (1 - share) if share < 1 else 0.0) or 1.0
        out.append([-share * length * (1 + pad), (1 - share) * length * (1 + pad)])
    return out


def quantile_chart(run_: RankRun, signal: str = "expected_log_return") -> go.Figure:
    """Mean forward log return per signal bucket (1 = ranked lowest): a working ranking rises left to right."""
    q = run_.result.buckets(signal)
    fig = go.Figure(go.Bar(x=q["bucket"].astype(str), y=q["realised"] * 100,
                           marker_color=[UP if v > 0 else DOWN for v in q["realised"]]))
    fig.update_layout(title="Return by signal bucket", xaxis_title="bucket (1 = ranked lowest)",
                      yaxis_title="mean forward log return (%)", height=340, margin={"t": 60, "b": 30})
    return fig


def paths_chart(run_: RankRun, signal: str = "expected_log_return") -> go.Figure:
    """Rank IC with its 95% interval against the number of sampled paths."""
    t = run_.result.by_paths(signal)
    fig = go.Figure(go.Scatter(x=t["paths"], y=t["rank_ic_mean"], mode="lines+markers", line_color=LINE,
                               error_y={"type": "data", "symmetric": False, "array": t["ci_high"] - t["rank_ic_mean"],
                                        "arrayminus": t["rank_ic_mean"] - t["ci_low"]}))
    fig.add_hline(y=0, line_dash="dot", line_color="#888")
    fig.update_layout(title="Rank IC against paths", xaxis_title="sampled paths", yaxis_title="rank IC (95% interval)",
                      xaxis={"type": "log" if len(t) > 2 else "linear", "tickvals": list(t["paths"])},
                      height=340, margin={"t": 60, "b": 30})
    return fig


def downloads(run_: RankRun) -> dict[str, tuple[bytes, str, str]]:
    """The per-(path count, date, series) panel as CSV and Parquet, and the report as JSON."""
    panel = run_.result.panel.panel
    return {"Panel (CSV)": (csv_text(panel).encode(), "rank_panel.csv", "text/csv"),
            "Panel (Parquet)": (parquet_bytes(panel), "rank_panel.parquet", "application/vnd.apache.parquet"),
            "Report (JSON)": (json.dumps(run_.result.to_json(), indent=1).encode(), "rank_report.json",
                              "application/json")}


def section(watchlist, settings: RunSettings, fixes: tuple[str, ...], calendar: str | None) -> None:
    """The whole section: its inputs, the run button, and the latest run's charts, table and downloads
    (``watchlist``: the page's ``screener.WatchlistInputs``)."""
    from . import trust

    st.header("Does the ranking work?", anchor="rank-skill")
    st.caption("At each past cut-off date every series of the watchlist is forecast from the bars before it only; "
               "the model's ranking (expected return, median, P(up), mean/σ of the paths) is then compared with the "
               f"returns that followed over {settings.forecast.horizon} bars: rank IC with a Newey–West interval, "
               "the top-minus-bottom fifth after costs, beside naive rankings on the same dates.")
    plan = plan_inputs()
    if st.button("Evaluate the ranking", icon=":material/leaderboard:", key="rk_run"):
        try:
            run(watchlist.entries(), settings, plan, watchlist.label, {"fixes": tuple(fixes), "calendar": calendar})
        except WatchlistError as e:
            st.error(f"**Check the watchlist:** {e}")
        except Exception as e:  # too few dates or series, mixed intervals, the guard, the model: one message
            st.error(f"**The ranking could not be evaluated.** {upload_names(app_message(e))}")
    done = latest()
    if done is None:
        st.info("Press **Evaluate the ranking** to score the watchlist's ranking on past cut-off dates.")
        return
    changed = changes(done.settings, settings) + [what for what, then, now in (
        (f"watchlist {done.watchlist} → {watchlist.label}", done.watchlist, watchlist.label),
        ("the options above", done.plan, plan)) if then != now]
    if changed:
        st.warning(f"This evaluation was made with other inputs than those on screen ({'; '.join(changed)}): "
                   "**Evaluate the ranking** again for these.", icon=":material/history:")
    report, words = done.result.report, rank_words(done.result.report)
    trust.in_sample_banner(report["guard"], report["dates"] + report["dates_left_out"].get("training_period", 0))
    st.caption(f"{done.watchlist} · {' · '.join(words.said)} · {words.throughput}")
    for notice in done.result.notices:  # a series that could not be read: the desk's words
        st.warning(upload_names(notice.problem))
    for line in words.left_out:  # loaded, but in no date's cross-section: the library says why
        st.warning(line, icon=":material/block:")
    for line in words.verdicts:
        st.markdown(f"- {line}")
    a, b, c = st.columns(3)
    a.plotly_chart(ic_chart(done), key="rk_ic_chart", config=CHART_CONFIG)
    b.plotly_chart(quantile_chart(done), key="rk_quantile_chart", config=CHART_CONFIG)
    c.plotly_chart(paths_chart(done), key="rk_paths_chart", config=CHART_CONFIG)
    table = words.table.frame
    st.dataframe(table, key="rk_table", hide_index=True, height=TABLE_ROW_PX * (len(table) + 1) + 3)
    st.caption("Charts: the model's expected return (mean of the paths' log returns) at the largest path count. "
               "Rank IC: Spearman correlation across the series of a date between the signal and the forward log "
               "return, averaged over dates; 95% interval and t from Newey–West (overlap-robust). Rank IC > 0: the "
               "share of dates with a positive rank IC (the chart's bars above 0); IC: the same with Pearson's "
               "correlation, IC > 0 its share. Spread: the top fifth's mean forward log return minus the bottom "
               "fifth's (at least one series each); after costs: less costs × turnover (sum of weight changes).")
    d = st.columns(3)
    for col, (name, (data, filename, mime)) in zip(d, downloads(done).items()):
        col.download_button(name, data, filename, mime, on_click="ignore", icon=":material/download:",
                            key=f"rk_download_{filename}")
