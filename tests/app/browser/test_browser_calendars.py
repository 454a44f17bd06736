"""Issue 21 in headless Chromium: an hourly EURUSD export and a daily S&P 500 export, uploaded on the
Forecast page and on the Screener, get their calendar inferred (the 24/5 FX week, NYSE) and the same first
future bars on both pages: none in the FX weekend, none on New Year's Day or Martin Luther King Day.
Screenshots go to test-artifacts/. The server and browser fixtures are test_browser's."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import test_browser
from test_browser import FAN, IDLE, SCREENED, bars_uploader, choose, no_exceptions, open_app, press, set_number, shot
from testkit import fx_hourly_export, nyse_daily_export

pytestmark = test_browser.pytestmark
app_url, browser, page = test_browser.app_url, test_browser.browser, test_browser.page  # fixtures, used by name

HORIZON = 30
NY = "America/New_York"


def exports(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return {"EURUSD": fx_hourly_export(folder / "EURUSD.csv"),
            "GSPC": nyse_daily_export(folder / "GSPC.csv", start="2016-01-04", end="2018-12-31")}


def in_fx_weekend(stamps: pd.DatetimeIndex) -> bool:
    ny = stamps.tz_convert(NY)
    return bool((((ny.day_of_week == 4) & (ny.hour >= 17)) | (ny.day_of_week == 5)
                 | ((ny.day_of_week == 6) & (ny.hour < 17))).any())


def download(page, button: str) -> Path:
    with page.expect_download() as dl:
        page.get_by_role("button", name=button).click()
    return Path(dl.value.path())


def forecast_upload(page, path: Path, calendar: str) -> pd.DatetimeIndex:
    """Upload ``path`` on the Forecast page, check the header names the inferred calendar, run, and return
    the future bar times of the quantiles download (UTC)."""
    from playwright.sync_api import expect

    bars_uploader(page).set_input_files(str(path))
    expect(page.get_by_text(f"calendar {calendar} (inferred)")).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("stCaptionContainer").filter(has_text=f"Calendar {calendar} inferred from the bar times")
           ).to_be_visible()
    press(page, "Run forecast", FAN)
    page.wait_for_selector(IDLE)
    table = pd.read_csv(download(page, "Quantiles CSV"))
    return pd.DatetimeIndex(pd.to_datetime(table["timestamp"], utc=True))


def test_fx_and_index_exports_get_the_same_first_future_bars_on_forecast_and_screener(page, app_url, tmp_path):
    from playwright.sync_api import expect

    files = exports(tmp_path / "exports")
    open_app(page, app_url)
    set_number(page, "Horizon (bars)", HORIZON)
    choose(page, "Source", "Upload CSV / Parquet")

    fx = forecast_upload(page, files["EURUSD"], "FX")
    assert len(fx) == HORIZON and not in_fx_weekend(fx) and not (fx.day_of_week == 5).any()
    assert fx[0] == pd.Timestamp("2019-03-24 21:00", tz="UTC")  # Sunday 17:00 New York, after Friday's last bar
    no_exceptions(page)
    fan = shot(page, "issue21_forecast_fx_fan.png")
    assert fan.stat().st_size > 0

    index = forecast_upload(page, files["GSPC"], "XNYS")
    days = [t.strftime("%Y-%m-%d") for t in index]
    assert days[0] == "2019-01-02" and "2019-01-01" not in days and "2019-01-21" not in days
    no_exceptions(page)
    shot(page, "issue21_forecast_index_fan.png")

    page.get_by_test_id("stSidebarNav").get_by_text("Screener").click()
    page.get_by_test_id("stButtonGroup").get_by_text("Upload files").click()
    page.wait_for_selector(IDLE)
    page.get_by_test_id("stMain").get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        [str(files["EURUSD"]), str(files["GSPC"])])
    for name in ("EURUSD", "GSPC"):
        expect(page.get_by_test_id("stMain").get_by_text(files[name].name, exact=True)).to_be_visible(timeout=60_000)
    press(page, "Run screener", SCREENED)
    table = page.get_by_test_id("stDataFrame").first
    expect(table.locator('[role="columnheader"]').first).to_have_text("Fan", timeout=120_000)
    page.wait_for_selector(IDLE)
    no_exceptions(page)
    shot(page, "issue21_screener.png")
    steps = pd.read_csv(download(page, "Per-step quantiles CSV"))
    steps["timestamp"] = pd.to_datetime(steps["timestamp"], utc=True)
    by_series = {name: pd.DatetimeIndex(part.sort_values("step")["timestamp"])
                 for name, part in steps.groupby("series")}
    assert list(by_series["EURUSD"]) == list(fx)  # the Screener's future bars are the Forecast page's
    assert list(by_series["GSPC"]) == list(index)
    rows = pd.read_csv(download(page, "Results CSV")).set_index("series")
    assert rows.loc["EURUSD", "calendar"] == "FX" and rows.loc["GSPC", "calendar"] == "XNYS"
