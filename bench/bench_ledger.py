"""What the forecast ledger costs. One JSON line per case:

- ``record``: writing one 30-path forecast (horizon 30, the bundled model on the bundled MSFT sample) to
  an open ledger, in process: median and p95 over many records, beside the forecast's own time.
- ``cli``: what the ledger adds to ``kronos forecast``'s wall time, in fresh processes as the command
  runs it (the ledger opens in the background while the model loads and samples, the record follows
  the forecast): the wait for the record after the forecast, the whole run with and without the ledger
  (``added_wall_s``: mostly importing SQLAlchemy, once per process; a background thread hides little
  of it, import work holds the GIL), and that import alone.
- ``page``: the Track record page (AppTest: the script run, server side) on a ledger of 10,000
  forecasts (20 series x 500, horizon 30, 30 paths, every step scored): one series with its fans, and
  all series in one table; and the ledger query behind the table alone.
- ``exceptions``: the risk record (``Desk.risk_record``, the Track record's Exceptions and ``kronos ledger
  exceptions``) on the page case's ledger: one series, and every series.

    .venv/bin/python bench/bench_ledger.py                  # every case, SQLite
    .venv/bin/python bench/bench_ledger.py --case record --pg postgresql+psycopg://user@host/db
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = "MSFT daily 2000-2013 (bundled)"
HORIZON, PATHS = 30, 30
SERIES, PER_SERIES = 20, 500  # the page case's ledger: 10,000 forecasts


def real_forecast(horizon: int = HORIZON, paths: int = PATHS):
    """(forecast, bars, seconds): the bundled default model on the bundled sample, as the CLI runs it."""
    from data_sources import apply_fixes, load_sample
    from kronos.checkpoints import load_pair
    from kronos.settings import ForecastSettings
    from kronos_studio.bundled import default_model_path
    from kronos_studio.forecasting import studio_pipeline

    bars = apply_fixes(load_sample(SAMPLE), ["adjust_splits"])
    pipeline = studio_pipeline(load_pair(default_model_path(), device="cpu"))
    settings = ForecastSettings(horizon=horizon, paths=paths, seed=0)
    pipeline.predict(bars, settings=settings)  # warm-up: the first call pays one-off costs
    t0 = time.perf_counter()
    fc = pipeline.predict(bars, settings=settings)
    return fc, bars, time.perf_counter() - t0


def case_record(url: str, n: int = 200) -> dict:
    from kronos_studio.ledger import Ledger

    fc, bars, forecast_s = real_forecast()
    nonce = np.float32(np.random.default_rng().uniform(0, 1))  # a ledger kept between runs gets new rows too
    with Ledger.open(url) as ledger:
        times = []
        for i in range(n):
            paths = fc.paths.copy()
            paths[0, 0, 0] += nonce + np.float32(i + 1) * 1e-3  # another forecast each time (one is kept once)
            other = dataclasses.replace(fc, paths=paths)
            t0 = time.perf_counter()
            ledger.record(other, bars)
            times.append(time.perf_counter() - t0)
        backend = ledger.engine.dialect.name
    ms = np.array(times[10:]) * 1000  # the first few warm the connection pool and statement cache
    return {"case": "record", "backend": backend, "horizon": HORIZON, "paths": PATHS, "records": n,
            "record_ms_median": round(float(np.median(ms)), 2), "record_ms_p95": round(float(np.percentile(ms, 95)), 2),
            "forecast_s": round(forecast_s, 3),
            "added_pct_of_forecast": round(float(np.median(ms)) / 10 / forecast_s, 2)}


def cli_child(url: str, with_ledger: bool) -> None:
    """One `kronos forecast`-like run in this fresh process; prints its timings."""
    t_start = time.perf_counter()
    from kronos_studio.cli.ledger import open_in_background, record

    os.environ["KRONOS_STUDIO_DB"] = url
    from data_sources import apply_fixes, load_sample

    bars = apply_fixes(load_sample(SAMPLE), ["adjust_splits"])
    opening = open_in_background() if with_ledger else None
    from kronos.checkpoints import load_pair
    from kronos.settings import ForecastSettings
    from kronos_studio.bundled import default_model_path
    from kronos_studio.forecasting import studio_pipeline

    t0 = time.perf_counter()
    pipeline = studio_pipeline(load_pair(default_model_path(), device="cpu"))
    fc = pipeline.predict(bars, settings=ForecastSettings(horizon=HORIZON, paths=PATHS, seed=int(time.time()) % 1000))
    t1 = time.perf_counter()
    if opening is not None:
        record(opening, fc, bars)
    t2 = time.perf_counter()
    print(json.dumps({"load_and_forecast_s": t1 - t0, "ledger_wait_ms": (t2 - t1) * 1000, "total_s": t2 - t_start}))


def case_cli(url: str, runs: int = 7) -> dict:
    got = {True: [], False: []}
    for _ in range(runs):
        for with_ledger in (False, True):  # alternated: drifts of the machine's load hit both alike
            out = subprocess.run([sys.executable, __file__, "--cli-child", url, "--with-ledger", str(int(with_ledger))],
                                 capture_output=True, text=True, check=True, cwd=ROOT)
            got[with_ledger].append(json.loads(out.stdout.strip().splitlines()[-1]))
    med = {k: {m: statistics.median(r[m] for r in v) for m in v[0]} for k, v in got.items()}
    code = ("import time, numpy, pandas, torch; t = time.perf_counter(); import sqlalchemy; "
            "print(time.perf_counter() - t)")
    imports = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
                     .stdout) for _ in range(3)]
    return {"case": "cli", "horizon": HORIZON, "paths": PATHS, "runs": runs,
            "ledger_wait_after_forecast_ms": round(med[True]["ledger_wait_ms"], 2),
            "load_and_forecast_s_with_ledger_opening": round(med[True]["load_and_forecast_s"], 3),
            "load_and_forecast_s_without": round(med[False]["load_and_forecast_s"], 3),
            "total_s_with_ledger": round(med[True]["total_s"], 3), "total_s_without": round(med[False]["total_s"], 3),
            "added_wall_s": round(med[True]["total_s"] - med[False]["total_s"], 3),
            "sqlalchemy_import_s": round(statistics.median(imports), 3), "cpu_count": os.cpu_count()}


def build_page_ledger(url: str) -> float:
    """SERIES x PER_SERIES recorded forecasts (two models), every step scored; returns the seconds taken."""
    from data_sources import Bars
    from kronos.forecast import Forecast
    from kronos.settings import ForecastSettings
    from kronos_studio.ledger import Ledger
    from kronos_studio.ledger.rows import prediction_row
    from kronos_studio.ledger.schema import prediction_paths, predictions

    started = time.perf_counter()
    start = pd.Timestamp("2024-03-01", tz="UTC")  # when the bench's forecasts were "made", a minute apart
    rng = np.random.default_rng(0)
    n = PER_SERIES + 100
    with Ledger.open(url) as ledger:
        for s in range(SERIES):
            close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
            frame = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC"),
                                  "open": close, "high": close * 1.002, "low": close * 0.998, "close": close,
                                  "volume": 1e4})
            bars = Bars.from_frame(frame, source="file", symbol=f"S{s:02d}", interval="1h")
            rows, blobs = [], []
            for k in range(PER_SERIES):
                at = 64 + k
                last = close[at - 1]
                walk = last * np.exp(np.cumsum(rng.normal(0, 0.01, (PATHS, HORIZON)), axis=1))
                paths = np.repeat(walk[:, :, None], 6, axis=2).astype(np.float32)
                fc = Forecast(pd.DatetimeIndex(frame["timestamp"].iloc[at:at + HORIZON]), paths, paths.mean(0),
                              frame.iloc[at - 64:at].reset_index(drop=True), ForecastSettings(HORIZON, PATHS, seed=k),
                              {"model": ("model-a", "model-b")[k % 2], "input_sha256": f"{s}-{k}",
                               "created_at": (start + pd.Timedelta(minutes=k)).isoformat()})
                row, blob = prediction_row(fc, bars)
                rows.append(row)
                blobs.append(blob)

            def insert(conn, rows=rows, blobs=blobs):  # one transaction per series: the bench's own bulk load
                ids = [conn.execute(predictions.insert().values(**r).returning(predictions.c.id)).scalar_one()
                       for r in rows]
                conn.execute(prediction_paths.insert(), [{"prediction_id": i, **b} for i, b in zip(ids, blobs)])

            ledger.write(insert)
            ledger.score(bars)
        assert ledger.counts()["predictions"] == SERIES * PER_SERIES
    return time.perf_counter() - started


def case_page(runs: int = 5) -> dict:
    from streamlit.testing.v1 import AppTest

    work = Path(tempfile.mkdtemp(prefix="kronos-bench-ledger-"))
    url = f"sqlite:///{work / 'ledger.sqlite'}"
    build_s = build_page_ledger(url)
    os.environ.update(KRONOS_STUDIO_DB=url, KRONOS_STUDIO_CACHE=str(work / "cache"), HF_HUB_OFFLINE="1",
                      KRONOS_DEVICE="cpu")
    from kronos_studio.ledger import Ledger

    with Ledger.open(url) as ledger:
        t0 = time.perf_counter()
        table = ledger.predictions_frame()
        query_s = time.perf_counter() - t0
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()  # the Forecast page first
    at.switch_page("pages/track_record.py")
    cold = _timed(at.run)
    assert not at.exception, at.exception
    one = [_timed(at.run) for _ in range(runs)]
    assert at.get("plotly_chart") and len(at.dataframe[0].value) == PER_SERIES
    at.selectbox(key="tr_series").set_value("All series").run()
    every = [_timed(at.run) for _ in range(runs)]
    assert len(at.dataframe[0].value) == SERIES * PER_SERIES
    out = {"case": "page", "predictions": len(table), "evaluations": SERIES * PER_SERIES * HORIZON,
           "db_mb": round((work / "ledger.sqlite").stat().st_size / 1e6, 1), "build_s": round(build_s, 1),
           "script_first_s": round(cold, 3), "script_one_series_s": round(statistics.median(one), 3),
           "script_all_series_s": round(statistics.median(every), 3), "table_query_s": round(query_s, 3)}
    out["browser_click_to_drawn_s"] = browser_open(work, runs)
    return out


def case_exceptions(runs: int = 3) -> dict:
    """The risk record (``Desk.risk_record``: every forecast's VaR/ES at 0.95 and 0.99, long and short, read from
    its stored paths, its exception, the tests per series and model) on the page case's ledger of 10,000
    forecasts: one series (500), and every series."""
    from kronos_studio.desk import Desk
    from kronos_studio.ledger import Ledger
    from kronos_studio.risk.measures import RiskSettings

    work = Path(tempfile.mkdtemp(prefix="kronos-bench-exceptions-"))
    url = f"sqlite:///{work / 'ledger.sqlite'}"
    build_page_ledger(url)
    with Ledger.open(url) as ledger:
        Desk.risk_record(ledger, RiskSettings(), symbol="S00")  # warm-up: scipy's import, the first query
        one = [_timed(lambda: Desk.risk_record(ledger, RiskSettings(), symbol="S01")) for _ in range(runs)]
        every = [_timed(lambda: Desk.risk_record(ledger, RiskSettings())) for _ in range(runs)]
    return {"case": "exceptions", "predictions": SERIES * PER_SERIES, "paths": PATHS, "horizon": HORIZON,
            "one_series_s": round(statistics.median(one), 3), "all_series_s": round(statistics.median(every), 3)}


def browser_open(work: Path, runs: int) -> list[float] | str:
    """Seconds from the click on "Track record" in the navigation to its chart and table drawn, in
    headless Chromium against a real server (one series, the latest one)."""
    import shutil
    import socket
    import urllib.request

    chromium = shutil.which("chromium")
    if chromium is None:
        return "skipped: no chromium"
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", "STREAMLIT_SERVER_HEADLESS": "true",
           "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
                             "--server.address", "127.0.0.1"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    idle = '[data-testid="stApp"][data-test-connection-state="CONNECTED"][data-test-script-state="notRunning"]'
    try:
        for _ in range(600):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.1)
        times = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.wait_for_selector(idle, timeout=120_000)
            page.get_by_role("button", name="Run forecast").wait_for(timeout=120_000)
            for _ in range(runs):
                t0 = time.perf_counter()
                page.get_by_test_id("stSidebarNav").get_by_text("Track record").click()
                page.wait_for_selector('[data-testid="stPlotlyChart"] .scatterlayer .trace', timeout=60_000)
                page.get_by_test_id("stDataFrame").first.wait_for(timeout=60_000)
                page.wait_for_selector(idle, timeout=60_000)
                times.append(round(time.perf_counter() - t0, 3))
                page.get_by_test_id("stSidebarNav").get_by_text("Forecast").click()
                page.get_by_role("button", name="Run forecast").wait_for(timeout=60_000)
            browser.close()
        return times
    finally:
        proc.terminate()
        proc.wait(10)


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", choices=["record", "cli", "page", "exceptions"], action="append")
    ap.add_argument("--pg", default=os.environ.get("KRONOS_STUDIO_TEST_PG"),
                    help="a PostgreSQL URL: the record case runs there too")
    ap.add_argument("--cli-child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--with-ledger", default="1", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.cli_child:
        cli_child(args.cli_child, args.with_ledger == "1")
        return
    cases = args.case or ["record", "cli", "page"]
    with tempfile.TemporaryDirectory(prefix="kronos-bench-") as tmp:
        if "record" in cases:
            print(json.dumps(case_record(f"sqlite:///{Path(tmp) / 'record.sqlite'}")), flush=True)
            if args.pg:
                print(json.dumps(case_record(args.pg)), flush=True)
        if "cli" in cases:
            print(json.dumps(case_cli(f"sqlite:///{Path(tmp) / 'cli.sqlite'}")), flush=True)
    if "page" in cases:
        print(json.dumps(case_page()), flush=True)
    if "exceptions" in cases:
        print(json.dumps(case_exceptions()), flush=True)


if __name__ == "__main__":
    main()
