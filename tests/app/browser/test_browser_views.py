"""What the analyst sees, in headless Chromium: the Compare page in backtest mode (scores, verdict, overlay),
the fan on a phone-wide screen (modebar, legend and title boxes apart; the data-quality panel collapsed
for warnings, open for errors) and the fan on a desktop (window, gap, event labels, path hover).
Screenshots go to test-artifacts/. The server and browser fixtures are test_browser's."""
from __future__ import annotations

import re

import test_browser
from app_helpers import good_csv
from test_browser import ARTIFACTS, FAN, IDLE, bars_uploader, choose, no_exceptions, open_app, press, set_number, shot

pytestmark = test_browser.pytestmark  # the browser mark; skipped where Chromium is absent (outside CI)
app_url, browser, page = test_browser.app_url, test_browser.browser, test_browser.page  # fixtures, used by name

CHART = '[data-testid="stPlotlyChart"]'
MODELS = ("test-tiny-a (local folder)", "test-tiny-b (local folder)")


def overlaps(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


def watch(pg):
    """The page fixture's bookkeeping (JS errors, requests) for a page made here."""
    pg.js_errors, pg.requests = [], []
    pg.on("pageerror", lambda e: pg.js_errors.append(str(e)))
    pg.on("request", lambda r: pg.requests.append(r.url))
    return pg


def test_compare_backtest_shows_scores_verdict_and_overlay(page, app_url):
    from playwright.sync_api import expect

    open_app(page, app_url)
    set_number(page, "Horizon (bars)", 10)
    page.get_by_test_id("stSidebarNav").get_by_text("Compare models").click()
    page.get_by_role("button", name="Run comparison").wait_for(timeout=60_000)
    page.get_by_test_id("stButtonGroup").get_by_text("Backtest").click()
    page.wait_for_selector(IDLE)
    page.get_by_role("button", name="Run comparison").click()
    verdict = page.get_by_test_id("stAlertContentInfo").filter(has_text="Verdict")
    expect(verdict).to_contain_text("On this cut-off, ", timeout=120_000)
    expect(verdict).to_contain_text(re.compile(r"has the lower CRPS \([\d.,]+% vs [\d.,]+% of price\)"))
    expect(verdict).to_contain_text(re.compile(r"is beyond noise|is not beyond noise|not borne out"))
    expect(verdict).to_contain_text("over the 8 cut-offs")
    page.wait_for_selector(IDLE)
    for label in ("Expected return at horizon", "P(close ends above last close)", "Band width p10–p90 at horizon",
                  "First-step gap", "CRPS", "p10–p90 coverage", "CRPS skill vs random walk"):
        expect(page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)).to_have_count(2)  # per model
    table = page.get_by_test_id("stDataFrame").first
    table.scroll_into_view_if_needed()
    headers = table.locator('[role="columnheader"]')
    expect(headers.first).to_have_text("model", timeout=30_000)  # the grid draws its header lazily
    assert headers.all_inner_texts()[:4] == ["model", "CRPS", "CRPS skill vs random walk", "p10–p90 coverage"]
    expect(page.locator(f"{CHART} .subplot")).to_have_count(2)  # side by side
    page.get_by_test_id("stButtonGroup").get_by_text("Overlay").click()
    page.wait_for_selector(IDLE)
    expect(page.locator(CHART)).to_have_count(1)
    expect(page.locator(f"{CHART} .subplot")).to_have_count(1, timeout=30_000)  # one chart for every model
    legend = page.locator(f"{CHART} .legendtext").all_text_contents()
    assert all(f"{m}: p50, p10–p90" in legend for m in MODELS), legend
    fills = page.locator(f"{CHART} .scatterlayer .trace .js-fill")
    colours = {fills.nth(i).evaluate("e => getComputedStyle(e).fill") for i in range(fills.count())}
    assert len(colours - {"none"}) >= 2, colours  # a band per model, each in its own colour
    expect(verdict).to_be_visible()  # the verdict stays: the overlay redraws the stored backtest
    no_exceptions(page)
    shot(page, "compare_page.png")


def test_fan_on_a_phone_keeps_toolbar_and_legend_off_the_title(browser, app_url):
    from playwright.sync_api import expect

    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    pg = watch(ctx.new_page())
    try:
        open_app(pg, app_url)
        # The unadjusted sample: split jumps are warnings with a fix to accept, not errors.
        pg.get_by_test_id("stExpandSidebarButton").click()
        pg.get_by_test_id("stSidebar").get_by_text("Split-adjusted").click()
        pg.wait_for_selector(IDLE)
        pg.get_by_test_id("stSidebarCollapseButton").locator("button").click()
        quality = pg.get_by_test_id("stExpander").filter(has_text="Data quality")
        expect(quality).to_contain_text(re.compile(r"Data quality: [1-9]\d* to review"))
        assert quality.locator("details").get_attribute("open") is None  # warnings and notes only: collapsed
        expect(quality.get_by_text("split_jump")).to_be_hidden()
        pg.get_by_role("button", name="Run forecast").click()
        pg.wait_for_selector(FAN, timeout=60_000)
        pg.wait_for_selector(IDLE)
        chart = pg.locator(CHART).first
        chart.scroll_into_view_if_needed()
        chart.locator(".nsewdrag").first.hover()  # the modebar shows on hover
        title = chart.locator(".gtitle").bounding_box()
        modebar = chart.locator(".modebar").bounding_box()
        legend = chart.locator(".legend").bounding_box()
        plot = chart.locator(".main-svg").first.bounding_box()
        assert title and modebar and legend and plot, (title, modebar, legend, plot)
        assert plot["width"] <= 390
        assert not overlaps(modebar, title), (modebar, title)
        assert not overlaps(legend, title), (legend, title)
        assert legend["y"] > title["y"] + title["height"]  # under the plot, not over the title
        assert title["x"] >= plot["x"] and title["x"] + title["width"] <= plot["x"] + plot["width"] + 1  # not clipped
        no_exceptions(pg)
        height = pg.evaluate("document.querySelector('[data-testid=stMainBlockContainer]').scrollHeight")
        pg.set_viewport_size({"width": 390, "height": max(844, int(height) + 100)})
        pg.wait_for_timeout(300)
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "forecast_mobile.png"))
    finally:
        ctx.close()


def test_quality_panel_opens_for_an_error(page, app_url, tmp_path):
    """Duplicated rows are an error (they block the run): then the panel opens by itself."""
    from playwright.sync_api import expect

    lines = good_csv().decode().splitlines()
    path = tmp_path / "dupes.csv"
    path.write_text("\n".join([*lines, lines[-1]]) + "\n")
    open_app(page, app_url)
    choose(page, "Source", "Upload CSV / Parquet")
    bars_uploader(page).set_input_files(str(path))
    quality = page.get_by_test_id("stExpander").filter(has_text="Data quality")
    expect(quality).to_be_visible(timeout=30_000)
    expect(quality.locator("details")).to_have_attribute("open", "")
    expect(page.get_by_test_id("stAlertContentError")).to_contain_text("cannot run on these bars")
    no_exceptions(page)


JS_POINT = """([trace, point]) => {
  const gd = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
  const full = gd._fullLayout, xa = full.xaxis, ya = full.yaxis;
  const t = gd._fullData.findIndex(d => d.name === trace);
  const x = gd._fullData[t].x[point], y = gd._fullData[t].y[point];
  const box = gd.getBoundingClientRect();
  return {x: box.left + xa._offset + xa.d2p(x), y: box.top + ya._offset + ya.d2p(y),
          first: xa.range[0], last: xa.range[1], left: xa.r2p(xa.range[0]), width: xa._length,
          start: xa.d2p(gd._fullData.find(d => d.name === 'forecast start').x[0])};
}"""


def test_fan_on_a_desktop(page, app_url):
    from playwright.sync_api import expect

    open_app(page, app_url)
    set_number(page, "Horizon (bars)", 20)
    page.get_by_text("Event markers (optional)").click()
    page.get_by_label("One per line: date[ time], label").fill(
        "2013-02-19, FOMC minutes\n2013-02-20, CPI\n2013-02-21, Options expiry\n2013-03-08, Jobs report")
    page.get_by_label("One per line: date[ time], label").press("Control+Enter")
    page.wait_for_selector(IDLE)
    press(page, "Run forecast", FAN)
    page.wait_for_selector(IDLE)
    chart = page.locator(CHART).first
    expect(chart.locator(".legendtext").filter(has_text=re.compile(r"first-step gap [+-]\d+\.\d\d%"))).to_have_count(1)
    # The forecast opens on at least 40% of the plot's width.
    chart.scroll_into_view_if_needed()  # the hover below needs the path's point inside the viewport
    geo = page.evaluate(JS_POINT, ["10 sample paths", 5])
    assert (geo["width"] - geo["start"]) / geo["width"] >= 0.39, geo
    # Event labels never overprint one another (nor the forecast-start label).
    boxes = [b for b in (a.bounding_box() for a in chart.locator(".annotation").all()) if b]
    assert len(boxes) >= 4
    assert not [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:] if overlaps(a, b)]
    # Hovering a sample path names it and gives its value.
    page.mouse.move(geo["x"], geo["y"])
    expect(chart.locator(".hoverlayer")).to_contain_text(re.compile(r"path \d+"), timeout=10_000)
    expect(chart.locator(".hoverlayer")).to_contain_text("close")
    no_exceptions(page)
    page.mouse.move(5, 5)
    shot(page, "forecast_fan_wide.png")


def test_ensemble_fan_with_its_members(page, app_url):
    from playwright.sync_api import expect

    open_app(page, app_url)
    page.get_by_test_id("stSidebar").get_by_text("Ensemble", exact=True).click()
    page.wait_for_selector(IDLE)
    set_number(page, "Horizon (bars)", 20)
    press(page, "Run forecast", FAN)
    page.wait_for_selector(IDLE)
    page.get_by_text("Show members", exact=True).click()
    page.wait_for_selector(IDLE)
    chart = page.locator(CHART).first
    members = chart.locator(".legendtext").filter(has_text=re.compile(r"^(Kronos|Bootstrap|GARCH|Random walk) \d+%$"))
    expect(members).to_have_count(4, timeout=30_000)
    # The legend (under the plot) stays clear of the title and inside the chart; its entries apart.
    box, title = chart.bounding_box(), chart.locator(".gtitle").bounding_box()
    entries = [e.bounding_box() for e in chart.locator(".legend .traces").all()]
    assert entries and all(not overlaps(e, title) for e in entries)
    inside = [box["x"] <= e["x"] and e["x"] + e["width"] <= box["x"] + box["width"] + 1 for e in entries]
    assert all(inside), (box, entries)
    assert not [(a, b) for i, a in enumerate(entries) for b in entries[i + 1:] if overlaps(a, b)]
    expect(page.get_by_test_id("stCaptionContainer").filter(has_text="Model ensemble")).to_have_count(1)
    no_exceptions(page)
    page.mouse.move(5, 5)
    shot(page, "forecast_ensemble_members.png")


def test_the_fan_and_its_numbers_are_above_the_fold_on_a_laptop(browser, app_url):
    """1366x768, the default view, one click: the fan and the numbers under it are in sight without
    scrolling (the event options sit below them)."""
    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    pg = watch(ctx.new_page())
    try:
        open_app(pg, app_url)
        pg.get_by_role("button", name="Run forecast").click()
        pg.wait_for_selector(FAN, timeout=60_000)
        pg.wait_for_selector(IDLE)
        assert pg.evaluate("window.scrollY") == 0
        fan = pg.locator(CHART).first.bounding_box()
        plot = pg.evaluate("(() => { const s = document.querySelector('[data-testid=\"stPlotlyChart\"] "
                           ".js-plotly-plot')._fullLayout._size; return {top: s.t, height: s.h}; })()")
        # Three quarters of the plot area (where the fan is drawn) in the first screen.
        assert fan["y"] + plot["top"] + 0.75 * plot["height"] <= 768, (fan, plot)
        events = pg.get_by_text("Event markers (optional)").bounding_box()
        assert events["y"] > fan["y"] + fan["height"], (events, fan)  # the options come after the fan
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "forecast_laptop_first_screen.png"))
        no_exceptions(pg)
    finally:
        ctx.close()
