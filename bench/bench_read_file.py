"""How long ``read_bars_file`` takes, and how much memory it peaks at, on a large minute-bar CSV.

Generates a 1.9M-row one-minute CSV (about 120 MB) in a temporary folder, then reads it in a fresh
child process (so the peak RSS is the reader's, not the generator's) and prints one JSON line:
rows, MB, seconds, peak RSS and the RSS of the bare imports for comparison.

    .venv/bin/python bench/bench_read_file.py                       # ISO timestamps, ',' separated
    .venv/bin/python bench/bench_read_file.py --layout epoch        # epoch milliseconds
    .venv/bin/python bench/bench_read_file.py --layout semicolon    # ';' with decimal commas, dd.mm.yyyy dates
    .venv/bin/python bench/bench_read_file.py --layout investing    # newest first, "1,234.56", "12.3K": careful path
    .venv/bin/python bench/bench_read_file.py --layout binance      # 12 columns with a header, 7 of them used
    .venv/bin/python bench/bench_read_file.py --rows 500000 --repeat 3
    .venv/bin/python bench/bench_read_file.py --app                 # the app: upload, parse, later reruns

``--app`` drives app.py (Forecast page, bundled model) with Streamlit's AppTest in a fresh child
process: reruns on a bundled sample, then the upload of the generated file (seconds in the reader,
and from the upload to the page drawn), then reruns with that upload; each source also after a
Run forecast (the page then draws the fan, the table and the export). It prints the median rerun
times and how many times the bars' content hash was computed per rerun.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

LAYOUTS = ("iso", "epoch", "semicolon", "investing", "binance")


def write_file(path: Path, rows: int, layout: str) -> None:
    """A random-walk minute series with realistic column widths."""
    rng = np.random.default_rng(0)
    ts = pd.date_range("2019-01-01", periods=rows, freq="min", tz="UTC")
    close = 100 * np.exp(np.cumsum(rng.normal(0, 4e-4, rows)))
    open_ = np.r_[close[0], close[:-1]]
    spread = np.abs(rng.normal(0, 2e-4, rows)) * close
    df = pd.DataFrame({
        "open": open_, "high": np.maximum(open_, close) + spread, "low": np.minimum(open_, close) - spread,
        "close": close, "volume": rng.integers(1, 50_000, rows),
    })
    if layout == "epoch":
        df.insert(0, "timestamp", ts.as_unit("ms").asi8 // 1)
        df.to_csv(path, index=False, float_format="%.4f")
    elif layout == "binance":
        # Binance futures dump with its header: 12 columns, of which the reader needs 7.
        start = ts.as_unit("ms").asi8
        out = pd.DataFrame({"open_time": start})
        for c in ("open", "high", "low", "close", "volume"):
            out[c] = df[c]
        out["close_time"] = start + 59_999
        out["quote_volume"] = df["volume"] * df["close"]
        out["count"] = df["volume"] // 7
        out["taker_buy_volume"] = df["volume"] // 2
        out["taker_buy_quote_volume"] = out["quote_volume"] / 2
        out["ignore"] = 0
        out.to_csv(path, index=False, float_format="%.2f")
    elif layout == "investing":
        # Investing.com style: newest first, quoted US dates, thousands separators, K-suffixed volume.
        df[["open", "high", "low", "close"]] *= 20
        out = pd.DataFrame({"Date": ts.strftime("%m/%d/%Y %H:%M")})
        out["Price"] = df["close"].map("{:,.2f}".format)
        for c in ("open", "high", "low"):
            out[c.title()] = df[c].map("{:,.2f}".format)
        out["Vol."] = (df["volume"] / 1000).map("{:.2f}K".format)
        out["Change %"] = (df["close"].pct_change().fillna(0) * 100).map("{:.2f}%".format)
        out.iloc[::-1].to_csv(path, index=False, quoting=1)
    elif layout == "semicolon":
        df.insert(0, "Datum", ts.strftime("%d.%m.%Y %H:%M"))
        df.to_csv(path, index=False, sep=";", decimal=",", float_format="%.4f")
    else:
        df.insert(0, "datetime", ts.strftime("%Y-%m-%d %H:%M:%S"))
        df.to_csv(path, index=False, float_format="%.4f")


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux: VmHWM, which starts afresh at exec (ru_maxrss would
    carry the parent's peak over from the fork)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux; macOS reports bytes


def read_once(path: str) -> dict:
    """Runs in the child: import, read, report."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from data_sources.files import read_bars_file

    base = peak_rss_mb()
    stages: list[str] = []
    t0 = time.perf_counter()
    bars = read_bars_file(path, progress=lambda stage, frac: stages.append(stage))
    seconds = time.perf_counter() - t0
    return {"rows": len(bars), "seconds": round(seconds, 2), "peak_rss_mb": round(peak_rss_mb(), 1),
            "imports_rss_mb": round(base, 1), "interval": bars.interval, "stages": list(dict.fromkeys(stages))}


def _median_rerun(at, n: int) -> tuple[float, float]:
    """Median seconds of ``n`` reruns without any change, and content hashes computed per rerun."""
    from data_sources.schema import Bars

    times, hashes = [], []
    for _ in range(n):
        before = Bars.hash_calls
        t0 = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t0)
        hashes.append(Bars.hash_calls - before)
        if at.exception:
            raise SystemExit(f"app raised: {at.exception}")
    return round(float(np.median(times)), 3), float(np.median(hashes))


def app_once(path: str, reruns_n: int = 5) -> dict:
    """Runs in the child: the app on a sample, then on the uploaded file."""
    import atexit
    import os
    import shutil

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    tmp = tempfile.mkdtemp()
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    os.environ.update(KRONOS_STUDIO_CACHE=tmp, KRONOS_DEVICE="cpu", HF_HUB_OFFLINE="1")
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest, app_test

    import data_sources
    from data_sources.schema import Bars

    class NavigationPagesManager(PagesManager):  # as tests/app/conftest.py: rerun app.py, not the page alone
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            PagesManager.uses_pages_directory = False

    app_test.PagesManager = NavigationPagesManager
    real_hash = Bars.content_hash
    Bars.hash_calls = 0

    def counted(self):
        Bars.hash_calls += 1
        return real_hash(self)

    Bars.content_hash = counted  # every hash actually computed (a memo in front of it is not counted)
    real_read, parse_s = data_sources.read_bars_file, []

    def timed_read(*args, **kwargs):  # the app's loader calls data_sources.read_bars_file
        t0 = time.perf_counter()
        try:
            return real_read(*args, **kwargs)
        finally:
            parse_s.append(time.perf_counter() - t0)

    data_sources.read_bars_file = timed_read
    at = AppTest.from_file(str(root / "app.py"), default_timeout=600).run()
    if at.exception:
        raise SystemExit(f"app raised: {at.exception}")
    out = {}

    def reruns(what: str) -> None:
        out[f"rerun_{what}_s"], out[f"hashes_per_rerun_{what}"] = _median_rerun(at, reruns_n)
        at.button(key="run_forecast").click().run()  # a forecast: the page now draws the fan, table, export
        if not at.get("plotly_chart"):
            raise SystemExit(f"no fan after Run forecast: {[e.value for e in at.error]}")
        out[f"rerun_{what}_fan_s"], out[f"hashes_per_rerun_{what}_fan"] = _median_rerun(at, reruns_n)

    reruns("sample")
    data = Path(path).read_bytes()
    at.sidebar.selectbox(key="sb_source").set_value("file").run()
    t0 = time.perf_counter()
    at.sidebar.file_uploader(key="sb_upload").set_value((Path(path).name, data, "text/csv")).run()
    out["upload_to_page_s"] = round(time.perf_counter() - t0, 2)
    out["parse_s"] = round(sum(parse_s), 2)
    if at.exception or at.error:
        raise SystemExit(f"upload failed: {at.exception or [e.value for e in at.error]}")
    out["header"] = at.markdown[0].value
    del data
    reruns("upload")
    out["reads"] = len(parse_s)  # 1: the file was read once, however many reruns followed
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_900_000)
    ap.add_argument("--layout", choices=LAYOUTS, default="iso")
    ap.add_argument("--repeat", type=int, default=1, help="reads, each in a fresh process")
    ap.add_argument("--app", action="store_true", help="through the app (AppTest): upload, parse, reruns")
    ap.add_argument("--read", help=argparse.SUPPRESS)  # child mode
    ap.add_argument("--app-read", help=argparse.SUPPRESS)  # child mode of --app
    args = ap.parse_args()
    if args.read:
        print(json.dumps(read_once(args.read)))
        return
    if args.app_read:
        print(json.dumps(app_once(args.app_read)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"minute_{args.layout}.csv"
        write_file(path, args.rows, args.layout)
        mb = path.stat().st_size / 1e6
        for _ in range(args.repeat):
            mode = "--app-read" if args.app else "--read"
            out = subprocess.run([sys.executable, __file__, mode, str(path)], capture_output=True, text=True)
            if out.returncode:
                sys.exit(out.stderr)
            result = json.loads(out.stdout.splitlines()[-1])
            print(json.dumps({"layout": args.layout, "file_mb": round(mb, 1), **result}))


if __name__ == "__main__":
    main()
