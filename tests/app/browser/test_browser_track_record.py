"""The Track record page in headless Chromium, end to end: forecast an uploaded file, upload it again
with the bars that came since (they score the forecast), open the Track record page: the fan as it
was with the actual close on top, the table with the realized CRPS and coverage, the CSV download.
Runs its own server on a fresh ledger; the browser fixtures are test_browser's."""
from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
import test_browser
from app_helpers import good_csv
from test_browser import (
    FAN,
    IDLE,
    bars_uploader,
    choose,
    grid_with,
    ledger_url,
    no_exceptions,
    open_app,
    press,
    server_with_ledger,
    set_number,
    shot,
)
from testkit import DATA_FIXTURES

pytestmark = test_browser.pytestmark  # the browser mark; skipped where Chromium is absent (outside CI)
browser, page = test_browser.browser, test_browser.page  # fixtures, used by name


@pytest.fixture(scope="module")
def fresh_url(tiny_models, tmp_path_factory):
    """A server whose forecast ledger starts empty (the session's ledger holds other tests' forecasts)."""
    with server_with_ledger(tiny_models, tmp_path_factory.mktemp("track-record")) as url:
        yield url


def test_track_record_shows_the_past_fan_what_happened_and_the_scores(page, fresh_url, tmp_path):
    from playwright.sync_api import expect

    full = pd.read_csv(io.BytesIO(good_csv(200)))
    early, later = tmp_path / "early" / "mine.csv", tmp_path / "later" / "mine.csv"
    for path, rows in ((early, full.iloc[:150]), (later, full)):
        path.parent.mkdir()
        rows.to_csv(path, index=False)
    uploader = bars_uploader(page)

    open_app(page, fresh_url)
    set_number(page, "Horizon (bars)", 8)
    choose(page, "Source", "Upload CSV / Parquet")
    uploader.set_input_files(str(early))
    expect(page.get_by_text("150 bars")).to_be_visible(timeout=30_000)
    press(page, "Run forecast", FAN)
    uploader.set_input_files(str(later))  # the same series, 50 bars later: the forecast is scored
    expect(page.get_by_text("200 bars")).to_be_visible(timeout=30_000)
    page.wait_for_selector(IDLE)

    page.get_by_test_id("stSidebarNav").get_by_text("Track record").click()
    chart = page.locator('[data-testid="stPlotlyChart"]')
    expect(chart.locator(".legendtext").filter(has_text="actual close")).to_have_count(1, timeout=60_000)
    expect(chart.locator(".legendtext").filter(has_text="test-tiny-a: p10–p90")).to_have_count(1)
    expect(chart.locator(".scatterlayer .trace .js-fill").first).to_be_visible()
    metrics = page.get_by_test_id("stMetric")
    expect(metrics.filter(has_text="Forecasts")).to_contain_text("1 scored")
    expect(metrics.filter(has_text="p10–p90 coverage")).to_contain_text("%")
    table = page.get_by_test_id("stDataFrame").first
    table.scroll_into_view_if_needed()
    expect(table.locator('[role="columnheader"]').first).to_have_text("id", timeout=30_000)
    no_exceptions(page)
    shot(page, "track_record.png")

    with page.expect_download() as dl:
        page.get_by_role("button", name="Table CSV").click()
    rows = pd.read_csv(Path(dl.value.path()))
    assert len(rows) == 1 and rows["model"].iloc[0] == "test-tiny-a" and rows["symbol"].iloc[0] == "mine"
    assert rows["scored_steps"].iloc[0] == 8 and rows["crps"].iloc[0] > 0 and 0 <= rows["coverage"].iloc[0] <= 1
    no_exceptions(page)


def test_another_exchanges_file_leaves_the_forecast_waiting_and_says_why(page, fresh_url, tmp_path):
    """Issue 21 item 3 in the browser: a forecast of a Bitfinex BTC/USD file, then Coinbase's file of the same
    pair: not scored, the page says why (warning and status column)."""
    from playwright.sync_api import expect

    fixtures = DATA_FIXTURES
    lines = (fixtures / "cdd_bitfinex_BTCUSD_1h.csv").read_bytes().splitlines(keepends=True)
    early, later = tmp_path / "early" / "btc.csv", tmp_path / "later" / "btc.csv"
    early.parent.mkdir()
    later.parent.mkdir()
    early.write_bytes(b"".join(lines[:2] + lines[12:]))  # newest first: the 10 newest bars not there yet
    later.write_bytes((fixtures / "cdd_coinbase_BTCUSD_1h.csv").read_bytes())
    uploader = bars_uploader(page)

    open_app(page, fresh_url)
    set_number(page, "Horizon (bars)", 6)
    choose(page, "Source", "Upload CSV / Parquet")
    uploader.set_input_files(str(early))
    expect(page.get_by_text("38 bars").first).to_be_visible(timeout=30_000)
    set_number(page, "Lookback (bars)", 24)
    press(page, "Run forecast", FAN)
    uploader.set_input_files(str(later))
    expect(page.get_by_text("48 bars").first).to_be_visible(timeout=30_000)
    page.wait_for_selector(IDLE)

    page.get_by_test_id("stSidebarNav").get_by_text("Track record").click()
    warning = page.get_by_test_id("stAlertContentWarning").filter(has_text="could not be scored")
    expect(warning).to_contain_text("do not continue the history it read", timeout=60_000)
    chart = page.locator('[data-testid="stPlotlyChart"]')
    expect(chart.locator(".legendtext").filter(has_text="p10–p90")).to_have_count(1, timeout=30_000)
    expect(chart.locator(".legendtext").filter(has_text="actual close")).to_have_count(0)
    no_exceptions(page)
    shot(page, "track_record_waiting.png")


@pytest.fixture(scope="module")
def drifting_url(tiny_models, tmp_path_factory):
    """A server whose ledger holds a calm-regime forecaster's record on a series that turned volatile."""
    import sys

    from testkit import ROOT

    sys.path.insert(0, str(ROOT / "tests" / "kronos_studio" / "ledger"))
    from ledger_helpers import CHANGE, HORIZON, record_and_score, regime_series

    from kronos_studio.ledger import Ledger

    work = tmp_path_factory.mktemp("drift")
    with Ledger.open(ledger_url(work)) as ledger:
        record_and_score(ledger, regime_series(), range(60, 400 - HORIZON, 2), 400)
    assert CHANGE < 400
    with server_with_ledger(tiny_models, work) as url:
        yield url


def test_track_record_shows_drift_with_its_thresholds(page, drifting_url):
    """Issue 43 item 1 in the browser: the drift table and the rolling coverage and skill chart."""
    from playwright.sync_api import expect

    open_app(page, drifting_url)
    page.get_by_test_id("stSidebarNav").get_by_text("Track record").click()
    expect(page.get_by_role("heading", name="Drift")).to_be_visible(timeout=60_000)
    chart = page.locator('[data-testid="stPlotlyChart"]').last
    chart.scroll_into_view_if_needed()
    expect(chart.locator(".legendtext").filter(has_text="accepted by the binomial test")).to_have_count(1, timeout=60_000)
    expect(chart.locator(".legendtext").filter(has_text="coverage")).to_have_count(1)
    expect(chart.locator(".legendtext").filter(has_text="skill")).to_have_count(1)
    expect(chart.locator(".annotation-text").filter(has_text="nominal 80%")).to_have_count(1)
    expect(chart.locator(".annotation-text").filter(has_text="random walk")).to_have_count(2)  # subplot title too
    expect(page.get_by_text("judged from 20 scored forecasts on")).to_be_visible()
    page.wait_for_selector(IDLE)
    no_exceptions(page)
    shot(page, "track_record_drift.png")


@pytest.fixture(scope="module")
def few_references_url(tiny_models, tmp_path_factory):
    """A server whose ledger holds 25 forecasts a bar apart, only 5 of them with a random-walk reference."""
    import sys

    from testkit import ROOT

    sys.path.insert(0, str(ROOT / "tests" / "kronos_studio" / "ledger"))
    from ledger_helpers import cut, forecast, series

    from kronos_studio.ledger import Ledger

    work = tmp_path_factory.mktemp("drift-few")
    bars = series(n=400, seed=5)
    with Ledger.open(ledger_url(work)) as ledger:
        for at in range(60, 100, 6):
            ledger.record(forecast(bars, at, horizon=6, seed=at, model="earlier"), cut(bars, at))
        for at in range(100, 125):
            ledger.record(forecast(bars, at, horizon=6, seed=at), cut(bars, at))
        ledger.score(bars)
    with server_with_ledger(tiny_models, work) as url:
        yield url


def test_track_record_does_not_judge_the_skill_from_too_few_references(page, few_references_url):
    """Issue 51 item 3 in the browser: the drift table says how many forecasts have a random-walk reference and
    that the skill is not judged from 5 of them (it showed +61% from 5 of 25)."""
    from playwright.sync_api import expect

    open_app(page, few_references_url)
    page.get_by_test_id("stSidebarNav").get_by_text("Track record").click()
    expect(page.get_by_role("heading", name="Drift")).to_be_visible(timeout=60_000)  # the only series: chosen
    page.wait_for_selector(IDLE)
    table = page.get_by_test_id("stDataFrame").last
    table.scroll_into_view_if_needed()
    headers = table.locator('[role="columnheader"]')
    expect(headers.first).to_have_text("model", timeout=60_000)  # the grid draws its header lazily
    rows = table.locator('[role="row"]')
    texts = [rows.nth(i).locator('[role="gridcell"]').all_inner_texts() for i in range(1, rows.count())]
    [ours] = [r for r in texts if r[0] == "test-model"]
    assert ours[headers.all_inner_texts().index("why")].startswith("skill not judged: 5 of the 20 forecasts it needs")
    # the grid draws only the columns in view: scroll to its right end for the skill's columns
    table.locator(".dvn-scroller").evaluate("e => { e.scrollLeft = e.scrollWidth; }")
    expect(headers.filter(has_text="forecasts with a random-walk reference")).to_have_count(1, timeout=30_000)
    names = headers.all_inner_texts()
    row = [rows.nth(i).locator('[role="gridcell"]').all_inner_texts() for i in range(1, rows.count())][
        [r[0] for r in texts].index("test-model")]  # the same row order as before the scroll
    assert row[names.index("forecasts with a random-walk reference")] == "5"
    assert [row[names.index(c)] for c in ("CRPS skill vs random walk", "95% low", "95% high")] == ["–", "–", "–"]
    no_exceptions(page)
    shot(page, "track_record_drift_not_judged.png")


@pytest.fixture(scope="module")
def exceptions_url(tiny_models, tmp_path_factory):
    """A server whose ledger holds 6 forecasts of one series scored at their horizons, none overlapping: too few for
    a 0.99 VaR's tests."""
    import sys

    from testkit import ROOT

    sys.path.insert(0, str(ROOT / "tests" / "kronos_studio" / "ledger"))
    from ledger_helpers import cut, forecast, series

    from kronos_studio.ledger import Ledger

    work = tmp_path_factory.mktemp("exceptions")
    bars = series(n=200, seed=7)
    with Ledger.open(ledger_url(work)) as ledger:
        for at in range(100, 160, 10):
            ledger.record(forecast(bars, at, horizon=5, paths=200, seed=at), cut(bars, at))
        ledger.score(bars)
    with server_with_ledger(tiny_models, work) as url:
        yield url


def test_exceptions_say_why_a_p_value_is_missing_and_the_charts_title_fits(page, exceptions_url):
    """Issue 62 item 13: "Kupiec p None" with the reason only on the command line, and the exceptions chart's title
    cut off. The p-value reads '–' with the reason beside it and under the table; the title fits its chart."""
    from playwright.sync_api import expect

    open_app(page, exceptions_url)
    page.get_by_test_id("stSidebarNav").get_by_text("Track record").click()
    heading = page.get_by_role("heading", name="Exceptions")
    expect(heading).to_be_visible(timeout=60_000)
    page.wait_for_selector(IDLE)
    reason = "observations, there are 6"  # at least 20 at 0.95, 100 at 0.99
    expect(page.get_by_test_id("stCaptionContainer").filter(has_text=reason).first).to_be_visible()
    expect(page.get_by_test_id("stDataFrame").locator('[role="columnheader"]').filter(has_text="exceptions / forecasts")
           ).to_have_count(1, timeout=60_000)  # the grid draws its header lazily
    table = grid_with(page, "exceptions / forecasts")
    table.scroll_into_view_if_needed()
    headers = table.locator('[role="columnheader"]')
    scroller = table.locator(".dvn-scroller")  # the grid lists only the columns in view
    for _ in range(20):
        if {"Kupiec p", "why no p-value"} <= set(headers.all_inner_texts()):
            break
        scroller.evaluate("e => { e.scrollLeft += 200; }")
        page.wait_for_timeout(200)
    rows = table.locator('[role="row"]')
    for _ in range(20):  # the header and the cells are redrawn apart after a scroll: read them once they agree
        page.wait_for_timeout(200)
        names = headers.all_inner_texts()
        texts = [rows.nth(i).locator('[role="gridcell"]').all_inner_texts() for i in range(1, rows.count())]
        if texts and all(len(r) == len(names) for r in texts):
            break
    assert texts and all(r[names.index("Kupiec p")] == "–" for r in texts), (names, texts)
    assert all(reason in r[names.index("why no p-value")] for r in texts), texts
    assert not [c for r in texts for c in r if c == "None"], texts
    scroller.evaluate("e => { e.scrollLeft = 0; }")
    chart = page.locator('[data-testid="stPlotlyChart"]').filter(has=page.locator(".gtitle")).last
    chart.scroll_into_view_if_needed()
    expect(chart.locator(".gtitle")).to_contain_text("left out for overlap", timeout=30_000)
    plot = chart.locator(".main-svg").first.bounding_box()
    for line in chart.locator(".gtitle tspan.line").all() or [chart.locator(".gtitle")]:
        box = line.bounding_box()
        assert plot["x"] <= box["x"] and box["x"] + box["width"] <= plot["x"] + plot["width"], (box, plot)
        assert box["y"] >= plot["y"], (box, plot)
    title, area = chart.locator(".gtitle").bounding_box(), chart.locator(".draglayer .nsewdrag").first.bounding_box()
    assert title["y"] + title["height"] <= area["y"] + 1, (title, area)  # above the plot, not on it
    no_exceptions(page)
    heading.scroll_into_view_if_needed()
    shot(page, "track_record_exceptions.png")
