"""Issue 56 in headless Chromium: the sidebar's "Condition on" picks another sample, the Forecast page's fan is
Chronos-2's conditioned on it and says so under the fan, and Compare draws it with and without side by side.
Screenshots go to test-artifacts/. The browser fixtures are test_browser's."""
from __future__ import annotations

import pytest
import test_browser
from test_browser import FAN, IDLE, app_url, no_exceptions, open_app, press, set_number, shot  # noqa: F401 (fixture)
from test_browser_compare import choose_sample

from kronos_studio.ensemble.chronos2 import BUNDLED_CHRONOS2

pytestmark = [*test_browser.pytestmark, pytest.mark.skipif(not BUNDLED_CHRONOS2.is_dir(),
                                                           reason="the bundled Chronos-2 is not present")]
browser, page = test_browser.browser, test_browser.page  # fixtures, used by name

TARGET, SPX = "NASDAQ Composite daily 1999-2018 (arch)", "S&P 500 index daily 1999-2018 (arch)"


def test_condition_on_draws_a_conditioned_fan_and_compare_with_and_without(page, app_url):  # noqa: F811
    from playwright.sync_api import expect

    open_app(page, app_url)
    choose_sample(page, TARGET)
    box = page.get_by_test_id("stSidebar").get_by_test_id("stMultiSelect").filter(has_text="Condition on").first
    box.locator("input").click()
    box.locator("input").fill("S&P")
    page.get_by_role("option", name=SPX, exact=True).click()
    page.keyboard.press("Escape")
    page.wait_for_selector(IDLE)
    set_number(page, "Horizon (bars)", 10)
    expect(page.get_by_text(f"with Chronos-2 conditioned on {SPX}")).to_be_visible()
    press(page, "Run forecast", FAN)
    page.wait_for_selector(IDLE, timeout=120_000)
    expect(page.get_by_text(f"Chronos-2 conditioned on {SPX} (^GSPC 1d)")).to_be_visible()
    no_exceptions(page)
    shot(page, "condition_on_forecast.png")

    page.get_by_role("link", name="Compare").first.click()
    page.wait_for_selector(IDLE, timeout=60_000)
    page.get_by_test_id("stButtonGroup").get_by_text("With / without covariates").click()
    page.wait_for_selector(IDLE)
    page.get_by_role("button", name="Run with and without").click()
    chart = page.get_by_test_id("stPlotlyChart").first
    expect(chart.locator(".subplot")).to_have_count(2, timeout=120_000)
    page.wait_for_selector(IDLE, timeout=120_000)
    expect(page.get_by_text(f"Chronos-2 given {SPX}").first).to_be_visible()
    expect(page.get_by_text("Chronos-2 alone").first).to_be_visible()
    no_exceptions(page)
    shot(page, "condition_on_compare.png")


def test_a_conditioned_fan_on_an_uploaded_covariate_is_named_and_drawn_as_chronos2_s(page, app_url, tmp_path):  # noqa: F811
    """Issue 62, item 10, in the browser: an uploaded covariate with a turnover column. The fan's downloads were named
    after the sidebar's Kronos model while the fan is Chronos-2's, its model line read "(None) · —", the volume
    view drew a number Chronos-2 holds as a fan, and the covariate was named by the server's cache path and hash."""
    from pathlib import Path

    from playwright.sync_api import expect

    from data_sources.samples import load_sample

    spx = load_sample(SPX).frame.tail(600)
    file = tmp_path / "spx_turnover.csv"
    frame = spx[["timestamp", "open", "high", "low", "close", "volume"]].assign(value=spx["volume"] * spx["close"])
    frame.assign(timestamp=frame["timestamp"].dt.strftime("%Y-%m-%d")).to_csv(file, index=False)

    open_app(page, app_url)
    choose_sample(page, TARGET)
    page.get_by_test_id("stSidebar").get_by_role("region", name="Condition on a file").get_by_test_id(
        "stFileUploaderDropzoneInput").set_input_files(str(file))
    # The upload's rerun starts a moment after the file is set: until the page names the covariate it may still
    # look idle from before, and a click then is lost to that rerun (seen once in CI: no fan in 120 s).
    expect(page.get_by_text("with Chronos-2 conditioned on spx_turnover.csv")).to_be_visible(timeout=60_000)
    page.wait_for_selector(IDLE, timeout=60_000)
    set_number(page, "Horizon (bars)", 10)
    expect(page.get_by_text("with Chronos-2 conditioned on spx_turnover.csv")).to_be_visible()
    assert "/covariates/" not in page.get_by_test_id("stMain").inner_text()  # named as uploaded, not by its cache path
    press(page, "Run forecast", FAN)
    page.wait_for_selector(IDLE, timeout=120_000)
    expect(page.get_by_text("Chronos-2 conditioned on spx_turnover.csv (spx_turnover 1d)")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Model Chronos-2 (chronos2-small) given spx_turnover")).to_be_visible()
    main = page.get_by_test_id("stMain").inner_text()
    assert "(None)" not in main and " · — · " not in main and "/covariates/" not in main
    expect(page.get_by_text("its close alone is read").first).to_be_visible()
    page.get_by_test_id("stButtonGroup").get_by_text("volume").click()
    page.wait_for_selector(IDLE, timeout=60_000)
    expect(page.get_by_text("No volume fan: this model").first).to_be_visible()
    no_exceptions(page)
    shot(page, "condition_on_uploaded_covariate_volume.png")
    with page.expect_download() as dl:
        page.get_by_role("button", name="Quantiles CSV").click()
    name = dl.value.suggested_filename
    assert "chronos2-small_given_spx_turnover" in name and "tiny" not in name, name
    header = Path(dl.value.path()).read_text().splitlines()[0]
    assert header.endswith("volume_floored_share"), header
    with page.expect_download() as dl:
        page.get_by_role("button", name="Paths CSV").click()
    assert "chronos2-small_given_spx_turnover" in dl.value.suggested_filename
