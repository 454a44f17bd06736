"""The Watch page in headless Chromium: a replay and a live watch kept in the server's ledger (run here through the
desk, as ``kronos watch`` runs them), their last ticks, what each tick did per series, and the alerts that failed
to reach a webhook that is down (its token never shown). Runs its own server on that ledger."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd
import pytest
import test_browser
from test_browser import IDLE, choose, ledger_url, no_exceptions, open_app, server_with_ledger, shot

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "kronos_studio" / "desk"))
from watch_kit import request, synthetic_folder  # noqa: E402

pytestmark = test_browser.pytestmark
browser, page = test_browser.browser, test_browser.page  # fixtures, used by name
TOKEN = "T9/B9/never-shown"


@pytest.fixture(scope="module")
def watched(tiny_models, tmp_path_factory):
    """A server whose ledger holds a replay of two series (a third too short: refused) with a price level crossed,
    alerting a webhook nothing listens on, and a live watch's one tick."""
    from kronos_studio.desk import Desk
    from kronos_studio.desk.watch import AlertChannels, AlertRules, Replay
    from kronos_studio.ledger import Ledger

    work = tmp_path_factory.mktemp("watch")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KRONOS_STUDIO_CACHE", str(work / "cache"))
        folder = synthetic_folder(work / "watchlist", end="2026-05-12")
        pd.read_csv(folder / "AAA.csv").tail(20).to_csv(folder / "SHORT.csv", index=False)
        last = pd.read_csv(folder / "AAA.csv")["Close"].iloc[-3]
        channels = AlertChannels(webhooks=(f"http://127.0.0.1:9/services/{TOKEN}",), attempts=1, backoff_s=0.0)
        with Ledger.open(ledger_url(work)) as ledger:
            Desk().watch(request(folder, name="desk replay", replay=Replay("2026-05-01", "2026-05-12"), calendar="XNYS",
                                 alerts=AlertRules(price_levels=(f"AAA={last:.2f}",)), channels=channels), ledger)
            Desk().watch(request(folder, name="desk live", calendar="XNYS"), ledger, once=True,
                         now=lambda: pd.Timestamp("2026-05-12 21:00", tz="UTC"))
    with server_with_ledger(tiny_models, work) as url:
        yield url


def cells(table) -> str:
    """Every cell of a data grid as text (the grid draws on a canvas; its accessible rows hold the text)."""
    table.locator('[role="columnheader"]').first.wait_for(state="attached", timeout=60_000)
    rows = table.locator('[role="row"]')
    return "\n".join(" | ".join(rows.nth(i).locator('[role="gridcell"]').all_inner_texts())
                     for i in range(1, rows.count()))


def test_the_watch_page_shows_the_watches_their_ticks_and_alerts(page, watched):
    from playwright.sync_api import expect

    open_app(page, watched)
    page.get_by_test_id("stSidebarNav").get_by_text("Watch").click()
    page.wait_for_url("**/watch", timeout=60_000)
    page.wait_for_selector(IDLE, timeout=60_000)
    expect(page.get_by_role("heading", name="Watch")).to_be_visible(timeout=60_000)
    tables = page.get_by_test_id("stDataFrame")
    expect(tables.first).to_be_visible(timeout=60_000)
    overview = cells(tables.first)
    assert "desk replay" in overview and "desk live" in overview and "live" in overview
    expect(tables).to_have_count(3)  # the watches, the chosen one's ticks, its alerts
    ticks = cells(tables.nth(1))
    assert "2026-05-12 20:00" in ticks and "forecast" in ticks and "SHORT" in ticks and "short_history" in ticks
    assert "00:00" not in ticks  # one calendar: one tick per session close
    alerts = cells(tables.nth(2))
    assert "failed" in alerts and "data gate" in alerts and "price crossed" in alerts
    assert "2026-05-" in alerts  # each alert at its tick, on the replay's clock
    assert "http://127.0.0.1:9/…" in alerts and TOKEN not in page.content()
    no_exceptions(page)
    shot(page, "watch_page.png")


def test_the_track_record_shows_a_replays_rows_apart_from_the_live_ones(page, watched):
    from playwright.sync_api import expect

    open_app(page, watched)
    page.get_by_test_id("stSidebarNav").get_by_text("Track record").click()
    page.wait_for_url("**/track_record", timeout=60_000)
    page.wait_for_selector(IDLE, timeout=60_000)
    expect(page.get_by_role("combobox", name="Rows")).to_be_visible(timeout=60_000)
    live = cells(page.get_by_test_id("stDataFrame").first)
    choose(page, "Rows", "desk replay")
    # the series' choice counts the replay's forecasts (8 sessions), not the live watch's one: waited for, the page
    # drawn again for the replay's rows (the idle marker alone may be read before the rerun starts)
    expect(page.get_by_role("combobox", name="Series")).to_have_value(re.compile(r"\(8 forecasts\)$"),
                                                                      timeout=60_000)
    page.wait_for_selector(IDLE, timeout=60_000)
    for _ in range(300):  # the grid's accessible rows follow its canvas a moment after the page is drawn again
        replayed = cells(page.get_by_test_id("stDataFrame").first)
        if replayed != live:
            break
        page.wait_for_timeout(100)
    assert replayed != live and "2026-05-" in replayed
    no_exceptions(page)
    shot(page, "track_record_replay.png")
