"""The Screener in headless Chromium: run it on the bundled samples, sort by P(up) with a click on the
header, select a row the sort moved, open it on the Forecast page and find that series and its numbers there.
Screenshots go to test-artifacts/. The server and browser fixtures are test_browser's."""
from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import test_browser
from test_browser import FAN, IDLE, SCREENED, no_exceptions, open_app, press, set_number, shot

from app_support.formats import width_text
from app_support.screener import ROW_HEIGHT

pytestmark = test_browser.pytestmark  # the browser mark; skipped where Chromium is absent (outside CI)
app_url, browser, page = test_browser.app_url, test_browser.browser, test_browser.page  # fixtures, used by name


def columns_x(page, table) -> list[tuple[float, float]]:
    """(left, right) page x of each column the grid draws (the row-marker column first). The grid is a
    canvas: its column borders are found as the vertical lines that cross the whole header."""
    from PIL import Image

    table.scroll_into_view_if_needed()  # a clip or click outside the viewport finds nothing
    box = table.bounding_box()
    header = box["height"] - table_rows(table) * ROW_HEIGHT
    png = page.screenshot(clip={"x": box["x"], "y": box["y"], "width": box["width"], "height": header})
    im = Image.open(io.BytesIO(png)).convert("RGB")
    w, h = im.size
    scale = w / box["width"]
    top, bottom = int(h * 0.15), int(h * 0.85)
    background = im.getpixel((int(w * 0.01) + 2, top))
    borders = [x for x in range(w)
               if len({im.getpixel((x, y)) for y in range(top, bottom)}) == 1 and im.getpixel((x, top)) != background]
    edges = [0.0, *(x / scale for x in borders)]
    return [(box["x"] + a, box["x"] + b) for a, b in zip(edges, edges[1:]) if b - a > 8]


def table_rows(table) -> int:
    return table.locator('[role="row"]').count() - 1  # the header row is one of them


def cells(table) -> list[list[str]]:
    """The grid's rows as its accessibility table lists them (display order), each a list of cell texts."""
    rows = table.locator('[role="row"]')
    return [rows.nth(i).locator('[role="gridcell"]').all_inner_texts() for i in range(1, rows.count())]


def settles(page, check, timeout_ms: int = 30_000) -> bool:
    """Whether ``check()`` comes true within the timeout (the grid redraws after a click)."""
    for _ in range(timeout_ms // 100):
        if check():
            return True
        page.wait_for_timeout(100)
    return check()


def test_screener_run_sort_and_open_a_row_on_forecast(page, app_url):
    from playwright.sync_api import expect

    from data_sources import list_samples, load_sample

    open_app(page, app_url)
    set_number(page, "Horizon (bars)", 8)
    page.get_by_test_id("stSidebarNav").get_by_text("Screener").click()
    press(page, "Run screener", SCREENED)
    table = page.get_by_test_id("stDataFrame").first
    headers = table.locator('[role="columnheader"]')
    expect(headers.first).to_have_text("Fan", timeout=120_000)  # the grid draws its header lazily
    page.wait_for_selector(IDLE)
    names = headers.all_inner_texts()
    assert names[:5] == ["Fan", "Series", "Status", "P(up)", "Expected return"], names
    samples = [s.name for s in list_samples()]
    expect(page.get_by_test_id("stMetric").first).to_contain_text(f"Series{len(samples)}")
    rows = cells(table)
    series_col, p_up_col = names.index("Series"), names.index("P(up)")
    assert [r[series_col] for r in rows] == samples[:len(rows)]  # watchlist order before sorting
    assert all(r[names.index("Fan")].startswith("data:image/svg+xml;base64,") for r in rows)
    no_exceptions(page)
    shot(page, "screener_results.png")

    # Sort: the first click on a header sorts ascending, the second descending.
    left, right = columns_x(page, table)[1 + p_up_col]
    y = table.bounding_box()["y"] + 12
    shown = [float(r[p_up_col]) for r in rows]
    assert len(set(shown)) > 1, shown  # else no order would show the sort
    x = left + min(20, (right - left) / 3)  # on the header's label: a narrow column's middle holds its menu button
    page.mouse.click(x, y)
    assert settles(page, lambda: [float(r[p_up_col]) for r in cells(table)] == sorted(shown)), cells(table)
    page.mouse.click(x, y)
    assert settles(page, lambda: [float(r[p_up_col]) for r in cells(table)] == sorted(shown, reverse=True))
    rows = cells(table)
    shot(page, "screener_sorted.png")

    # Select a row that the sort moved (its checkbox in the row-marker column): the selection must name the
    # series on screen, not the one first at that place. Then open it on the Forecast page.
    pick = next(i for i, r in enumerate(rows) if r[series_col] != samples[i])
    top = rows[pick][series_col]
    marker_left, marker_right = columns_x(page, table)[0]
    box = table.bounding_box()
    header = box["height"] - table_rows(table) * ROW_HEIGHT
    page.mouse.click((marker_left + marker_right) / 2, box["y"] + header + ROW_HEIGHT * (pick + 0.5))
    expect(page.get_by_text(f"Opens {top} on the Forecast page")).to_be_visible(timeout=30_000)
    page.wait_for_selector(IDLE)
    shot(page, "screener_selected.png")
    with page.expect_download() as dl:
        page.get_by_role("button", name="Results CSV").click()
    results = pd.read_csv(Path(dl.value.path()))
    assert list(results["series"]) == samples and (results["horizon"] == 8).all()
    row = results.set_index("series").loc[top]

    page.get_by_role("button", name="Open on Forecast").click()
    page.wait_for_selector(FAN, timeout=120_000)  # the Forecast page runs the row's settings at once
    page.wait_for_selector(IDLE)
    expect(page.get_by_role("heading", name="Forecast")).to_be_visible()
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_role("combobox", name="Sample")).to_have_value(top)
    expect(sidebar.get_by_label("Horizon (bars)", exact=True)).to_have_value("8")
    bars = load_sample(top)
    expect(page.get_by_test_id("stMarkdown").filter(has_text=f"{bars.symbol} · {bars.interval} · {len(bars)} bars")
           ).to_have_count(1)
    metrics = page.get_by_test_id("stMetric")
    expect(metrics.filter(has_text="P(close ends above last close)")).to_contain_text(f"{row['p_up']:.0%}")
    expect(metrics.filter(has_text="Expected return at horizon")).to_contain_text(f"{row['expected_return']:+.2%}")
    expect(metrics.filter(has_text="Band width p10–p90")).to_contain_text(width_text(row['band_width']))
    no_exceptions(page)
    shot(page, "screener_opened_on_forecast.png")


def test_a_multi_asset_file_is_screened_and_opens_with_the_sidebar_boxes_filled(page, app_url, tmp_path):
    """Issue 45 items 7, 8 (and 12): a daily file of three instruments in a ticker column is screened one series
    per instrument (the picker offers them, all at first); a row opened on Forecast has its instrument picked
    there, and the sidebar's Timezone and Calendar boxes show their choice there and on another page."""
    from app_helpers import multi_asset_csv
    from playwright.sync_api import expect

    path = tmp_path / "daily.csv"
    path.write_bytes(multi_asset_csv())
    open_app(page, app_url)
    expect(page.get_by_text("Everyone using this app shares one workspace")).to_be_visible()  # item 12
    shot(page, "shared_workspace_notice.png")
    page.get_by_role("button", name="Understood").click()
    expect(page.get_by_text("Everyone using this app shares one workspace")).to_have_count(0)
    set_number(page, "Horizon (bars)", 8)
    page.get_by_test_id("stSidebarNav").get_by_text("Screener").click()
    page.get_by_test_id("stButtonGroup").get_by_text("Upload files").click()
    page.get_by_test_id("stMain").get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))
    expect(page.get_by_text("daily.csv holds 3 instruments: 3 chosen.")).to_be_visible(timeout=30_000)
    picker = page.get_by_test_id("stMultiSelect").filter(has_text="Instruments in daily.csv")
    for t in ("AAA", "BBB", "CCC"):
        expect(picker.get_by_text(t, exact=True)).to_be_visible()
    page.wait_for_selector(IDLE)
    shot(page, "screener_multi_asset_picker.png")

    press(page, "Run screener", SCREENED)
    table = page.get_by_test_id("stDataFrame").first
    headers = table.locator('[role="columnheader"]')
    expect(headers.first).to_have_text("Fan", timeout=120_000)
    page.wait_for_selector(IDLE)
    names = headers.all_inner_texts()
    rows = cells(table)
    # each instrument's row named by it, as the ledger keys its series: a file's name is no part of it (issue 62)
    assert [r[names.index("Series")] for r in rows] == ["AAA", "BBB", "CCC"], rows
    assert [r[names.index("Status")] for r in rows] == ["ok"] * 3, rows
    marker_left, marker_right = columns_x(page, table)[0]
    box = table.bounding_box()
    header = box["height"] - table_rows(table) * ROW_HEIGHT
    page.mouse.click((marker_left + marker_right) / 2, box["y"] + header + ROW_HEIGHT * 1.5)  # BBB
    expect(page.get_by_text("Opens BBB on the Forecast page")).to_be_visible(timeout=30_000)
    page.wait_for_selector(IDLE)
    no_exceptions(page)
    shot(page, "screener_multi_asset_results.png")

    page.get_by_role("button", name="Open on Forecast").click()
    page.wait_for_selector(FAN, timeout=120_000)
    page.wait_for_selector(IDLE)
    expect(page.get_by_role("heading", name="Forecast")).to_be_visible()
    expect(page.get_by_role("combobox", name="Instrument in daily.csv")).to_have_value("BBB")
    sidebar = page.get_by_test_id("stSidebar")
    boxes = {"Timezone": "as in the file", "Calendar": "infer from the bar times"}
    for label, shown in boxes.items():
        expect(sidebar.get_by_role("combobox", name=label, exact=True)).to_have_value(shown)
    no_exceptions(page)
    shot(page, "screener_multi_asset_opened_on_forecast.png")

    page.get_by_test_id("stSidebarNav").get_by_text("Compare models").click()
    expect(page.get_by_role("heading", name="Compare models")).to_be_visible(timeout=30_000)
    page.wait_for_selector(IDLE)
    for label, shown in boxes.items():
        expect(sidebar.get_by_role("combobox", name=label, exact=True)).to_have_value(shown)
    no_exceptions(page)
    shot(page, "screener_multi_asset_sidebar_on_compare.png")


def test_each_rows_horizon_is_said_in_time_beside_its_var_and_mixed_intervals_are_flagged(page, app_url):
    """Issue 62 item 8: the bundled samples are daily, hourly and minute bars, and their 8-bar VaRs stood in one
    column. A **Horizon** column right before the risk columns (the serving risk model and its VaR, then the paths')
    says each row's horizon in time, and a warning says the watchlist mixes intervals."""
    from playwright.sync_api import expect

    from data_sources import list_samples
    from data_sources.intervals import span_text

    open_app(page, app_url)
    set_number(page, "Horizon (bars)", 8)
    page.get_by_test_id("stSidebarNav").get_by_text("Screener").click()
    press(page, "Run screener", SCREENED)
    table = page.get_by_test_id("stDataFrame").first
    headers = table.locator('[role="columnheader"]')
    expect(headers.first).to_have_text("Fan", timeout=120_000)
    page.wait_for_selector(IDLE)
    warning = page.get_by_test_id("stAlertContentWarning").filter(has_text="mixes bar intervals")
    expect(warning).to_contain_text("8 d against 8 h against 8 min")
    # the grid draws only the columns in view (Fan and Series pinned): scroll sideways to the Horizon column
    # a third of the view at a time, so two neighbouring columns are in view together at some step; the grid
    # redraws only when it is on screen
    table.scroll_into_view_if_needed()
    scroller = table.locator(".dvn-scroller")
    for _ in range(40):
        page.wait_for_timeout(300)
        names = headers.all_inner_texts()
        if {"Horizon", "Risk model"} <= set(names) or scroller.evaluate(
                "e => e.scrollLeft + e.clientWidth >= e.scrollWidth - 1"):
            break
        scroller.evaluate("e => { e.scrollLeft += e.clientWidth / 3; }")
    assert {"Horizon", "Risk model"} <= set(names), names
    # right before the risk columns: the risk model serving the series, then its VaR (then the paths')
    after = names[names.index("Horizon") + 1:]
    assert after[0] == "Risk model" and after[1].startswith("VaR 95% long"), names
    intervals = {s.name: s.interval for s in list_samples()}
    rows = cells(table)
    assert [r[names.index("Horizon")] for r in rows] == [span_text(intervals[r[names.index("Series")]], 8)
                                                          for r in rows]
    no_exceptions(page)
    warning.scroll_into_view_if_needed()
    shot(page, "screener_horizon.png")
