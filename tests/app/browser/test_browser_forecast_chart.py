"""Issue 45 in headless Chromium: the Forecast page's fan draws the field its Show control highlights, also
after another file was uploaded (the controls unmounted for a run); intraday bars with a lunch break draw
without empty gaps. Screenshots go to test-artifacts/. The server and browser fixtures are test_browser's."""
from __future__ import annotations

import test_browser
from app_helpers import good_csv
from test_browser import FAN, IDLE, bars_uploader, choose, no_exceptions, open_app, press, set_number, shot

pytestmark = test_browser.pytestmark
app_url, browser, page = test_browser.app_url, test_browser.browser, test_browser.page  # fixtures, used by name

ACTIVE = '[aria-checked="true"]'  # the highlighted option of a segmented control


def run_forecast(page) -> None:
    press(page, "Run forecast", FAN)
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
    bars_uploader(page).set_input_files(str(other))
    expect(page.get_by_text("300 bars")).to_be_visible(timeout=60_000)
    page.wait_for_selector(IDLE)
    run_forecast(page)
    page.wait_for_timeout(500)
    highlighted, axis = shown_field(page)
    shot(page, "issue45_show_control_after_upload.png")
    assert highlighted == axis.split(" (")[0], f"the control highlights {highlighted!r}, the chart draws {axis!r}"
    no_exceptions(page)


def shanghai_5min_csv(path, days: int = 10):
    """5-minute bars of an A-share (two decimals) on the Shanghai sessions, 09:30-11:30 and 13:00-15:00
    (bars at their start), times with their +08:00 offset."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(4)
    minutes = [*range(9 * 60 + 30, 11 * 60 + 30, 5), *range(13 * 60, 15 * 60, 5)]
    stamps = pd.DatetimeIndex([d + pd.Timedelta(minutes=m) for d in pd.bdate_range("2024-07-01", periods=days,
                                                                                    tz="Asia/Shanghai")
                               for m in minutes])
    close = (12 + np.cumsum(rng.normal(0, 0.02, len(stamps)))).round(2)
    pd.DataFrame({"timestamp": stamps.strftime("%Y-%m-%dT%H:%M:%S%z"), "open": close, "high": close + 0.03,
                  "low": close - 0.03, "close": close, "volume": rng.integers(1000, 5000, len(stamps))}
                 ).to_csv(path, index=False)
    return path


def test_intraday_lunch_break_and_nights_are_not_drawn_as_gaps(page, app_url, tmp_path):
    from playwright.sync_api import expect

    open_app(page, app_url)
    set_number(page, "Horizon (bars)", 30)
    set_number(page, "Sample paths", 4)
    choose(page, "Source", "Upload CSV / Parquet")
    bars_uploader(page).set_input_files(
        str(shanghai_5min_csv(tmp_path / "600000.csv")))
    expect(page.get_by_text("600000 · 5m · 480 bars")).to_be_visible(timeout=60_000)  # the header; a warning names the count too
    page.wait_for_selector(IDLE)
    choose(page, "Calendar", "XSHG")
    # the header names the calendar in use (an inference note may name it too, hence the header alone)
    expect(page.get_by_text("600000 · 5m · 480 bars").filter(has_text="calendar XSHG")).to_be_visible(timeout=60_000)
    page.wait_for_selector(IDLE)
    run_forecast(page)
    breaks = page.evaluate("document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot')"
                           ".layout.xaxis.rangebreaks")
    hours = sorted(tuple(round(h, 4) for h in b["bounds"]) for b in breaks if b.get("pattern") == "hour")
    half = 2.5 / 60
    assert hours == [(round(11 + 25 / 60 + half, 4), round(13 - half, 4)),
                     (round(14 + 55 / 60 + half, 4), round(9.5 - half, 4))], breaks
    no_exceptions(page)
    shot(page, "issue45_shanghai_lunch_break.png")
