"""Issue 45 in headless Chromium: the Forecast page's fan draws the field its Show control highlights, also
after another file was uploaded (the controls unmounted for a run); intraday bars with a lunch break draw
without empty gaps. Screenshots go to test-artifacts/. The server and browser fixtures are test_browser's."""
from __future__ import annotations

import test_browser
from app_helpers import good_csv
from test_browser import FAN, IDLE, choose, no_exceptions, open_app, set_number, shot

pytestmark = test_browser.pytestmark
app_url, browser, page = test_browser.app_url, test_browser.browser, test_browser.page  # fixtures, used by name

ACTIVE = '[aria-checked="true"]'  # the highlighted option of a segmented control


def run_forecast(page) -> None:
    page.get_by_role("button", name="Run forecast").click()
    page.wait_for_selector(FAN, timeout=120_000)
    page.wait_for_selector(IDLE)


def shown_field(page) -> tuple[str, str]:
    """(the option the Show control highlights, the fan chart's y-axis title)."""
    control = page.get_by_role("radiogroup", name="Show")
    axis = page.locator('[data-testid="stPlotlyChart"] .main-svg .g-ytitle').first
    return control.locator(ACTIVE).inner_text().strip(), axis.text_content().strip()


def test_show_control_and_fan_agree_after_another_upload(page, app_url, tmp_path):
    from playwright.sync_api import expect

    open_app(page, app_url)
    set_number(page, "Horizon (bars)", 8)
    set_number(page, "Sample paths", 4)
    run_forecast(page)
    page.get_by_test_id("stButtonGroup").get_by_text("volume").click()
    expect(page.locator('[data-testid="stPlotlyChart"] .g-ytitle').first).to_have_text("volume", timeout=30_000)
    assert shown_field(page) == ("volume", "volume")

    # Another file: no forecast for it yet, so the fan and its controls are gone for a run or more.
    choose(page, "Source", "Upload CSV / Parquet")
    other = tmp_path / "other.csv"
    other.write_bytes(good_csv(300))
    page.get_by_test_id("stSidebar").get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(other))
    expect(page.get_by_text("300 bars")).to_be_visible(timeout=60_000)
    page.wait_for_selector(IDLE)
    run_forecast(page)
    page.wait_for_timeout(500)
    highlighted, axis = shown_field(page)
    shot(page, "issue45_show_control_after_upload.png")
    assert highlighted == axis.split(" (")[0], f"the control highlights {highlighted!r}, the chart draws {axis!r}"
    no_exceptions(page)
