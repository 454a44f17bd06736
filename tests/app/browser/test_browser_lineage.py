"""The Fine-tune page's registry section in Chromium: "Retrain now" runs the gated retrain under a progress
bar, says the gate's decision, and the lineage table then shows the new entry and the timeline its events
(issue 43, item 4)."""
from __future__ import annotations

import re

import pytest
import test_browser
from test_browser import IDLE, no_exceptions, open_app, server_with_ledger, set_number, shot

pytestmark = test_browser.pytestmark
browser, page = test_browser.browser, test_browser.page  # fixtures, used by name


@pytest.fixture(scope="module")
def fresh_url(tiny_models, tmp_path_factory):
    """A server with a ledger (and so a registry) of its own."""
    with server_with_ledger(tiny_models, tmp_path_factory.mktemp("lineage")) as url:
        yield url


def test_retrain_now_shows_the_decision_and_the_lineage(page, fresh_url):
    from playwright.sync_api import expect

    open_app(page, fresh_url)
    set_number(page, "Horizon (bars)", 4)
    page.get_by_test_id("stSidebarNav").get_by_text("Fine-tune").click()
    page.wait_for_url("**/fine_tune", timeout=60_000)
    box = page.get_by_test_id("stExpander").filter(has_text="This series' adapters")
    expect(box.get_by_text("No adapter has been retrained for this series yet")).to_be_visible(timeout=60_000)
    page.wait_for_selector(IDLE)
    box.get_by_role("button", name="Retrain now").click()
    decided = box.get_by_text(re.compile(r"^Adapter 1 (promoted|rejected)"))  # not the timeline's "adapter 1" tick
    expect(decided).to_be_visible(timeout=400_000)
    expect(decided).to_contain_text("CRPS difference")
    page.wait_for_selector(IDLE, timeout=60_000)
    table = box.get_by_test_id("stDataFrame")
    expect(table).to_have_count(1)
    expect(box.get_by_text("No adapter has been retrained")).to_have_count(0)
    timeline = box.get_by_test_id("stPlotlyChart")
    expect(timeline).to_be_visible()
    expect(timeline.locator(".gtitle")).to_contain_text("Timeline")
    # one marker per event: the new entry's registration and the gate's decision on it
    expect(timeline.locator(".scatterlayer .trace .points path")).to_have_count(2)
    ticks = timeline.locator(".xtick text").all_text_contents()  # minutes, not "15:53:17.1"
    assert ticks and not [t for t in ticks if re.search(r":\d\d\.\d", t)], ticks
    legend = timeline.locator(".legend").text_content()
    assert "registered" in legend and ("promoted" in legend or "rejected" in legend), legend
    no_exceptions(page)
    shot(page, "fine_tune_lineage.png")
