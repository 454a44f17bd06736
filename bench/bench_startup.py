"""What ``kronos`` costs before it does any work. One JSON line:

- ``first_step_s``: seconds from process start to the first sampling step of
  ``kronos forecast AAPL_1d_bokeh.csv --model MINI --horizon 120 --paths 30 --no-ledger`` (the bundled
  AAPL sample, 1928 bars of history), MINI a folder with the official mini architecture and random
  weights (the published mini cannot be downloaded everywhere; its shapes decide the time, not its
  weights). The run happens in a fresh process that runs the CLI as the ``kronos`` script does, with
  hooks that write the clock: the first progress callback of the sampler, and for ``milestones_s`` (the
  run without the ledger) the bars in hand (``bars``: read by the command's second process), the weights
  loaded (``weights``), the first step and the forecast done (``forecast_done``), each from process start.
  ``first_step_with_ledger_s``: the same run recording in a SQLite ledger of the bench's own, as a plain
  ``kronos forecast`` does.
- ``import_cli_s``: ``python -c "import kronos_studio.cli.main"``; ``help_s``: ``kronos --help``.

Each is the median of ``--runs`` fresh processes (wall clock, process start included); ``first_step_min_s``
is the fastest run (the least disturbed by other load on the machine); ``total_s`` and
``total_with_ledger_s`` run to the end of the process.

    .venv/bin/python bench/bench_startup.py
    .venv/bin/python bench/bench_startup.py --runs 5

Start-up budgets (issue 57), each the median of ``--runs`` fresh processes of the code beside this script:

- ``help_s`` (target 0.3 s), ``forecast_help_s``: ``kronos --help``, ``kronos forecast --help``;
- ``forecast_overhead_s`` (target 0.7 s): the whole ``kronos forecast`` run above (no ledger) less its
  sampling (``sampling_s``: the call that makes the forecast, from its start to its return);
- ``app_first_page_cold_s`` (target 3 s): ``app.py``'s first page (the Forecast page on the bundled
  sample) through Streamlit's AppTest in a fresh process, from process start to the script run done;
  ``app_first_page_warm_s`` (target 1 s): a second session's first page in that process once its
  background warm-up (torch, the default model, the calendar) is done;
  ``app_heavy_modules``: the heavy libraries the first page had loaded when it was drawn (where the app
  starts its warm-up only then, before the warm-up's own);
- ``service_health_s``: ``kronos serve --open`` started until ``/health`` answers 200.

``load_average_1min_before`` and ``_after``: the machine is shared, so compare numbers taken back to
back (``--parts`` runs a subset: help, forecast, app, service).

    .venv/bin/python bench/bench_startup.py --runs 7 --parts help,app
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data_sources" / "sample_data" / "AAPL_1d_bokeh.csv"
HORIZON, PATHS = 120, 30


def build_mini(folder: Path) -> Path:
    """tokenizer/ + predictor/ in the official layout at the published mini configs, random weights."""
    import torch

    from kronos.checkpoints import save_checkpoint
    from kronos.config import OFFICIAL_CONFIGS, OFFICIAL_MODELS, OFFICIAL_TOKENIZER_CONFIGS
    from kronos.model import Kronos
    from kronos.tokenizer import KronosTokenizer

    mini = OFFICIAL_MODELS["mini"]
    torch.manual_seed(0)
    save_checkpoint(KronosTokenizer(OFFICIAL_TOKENIZER_CONFIGS[mini.tokenizer_repo_id]), folder / "tokenizer")
    save_checkpoint(Kronos(OFFICIAL_CONFIGS["mini"]), folder / "predictor")
    (folder / "bundle.json").write_text(json.dumps({"context": mini.context, "name": "mini (random weights)"}))
    return folder


def child(argv: list[str]) -> None:
    """Run the CLI in this process as the ``kronos`` script does (``run``: its exit included); print the wall
    clock (``time.time()``) of its milestones: the bars in hand, the weights loaded, the first sampling step,
    the forecast done. The hooks wrap functions of modules that import no torch, so the run keeps its own
    order of imports (and its second process for the bars)."""
    import atexit

    from kronos_studio.cli import bars_process, forecast
    from kronos_studio.cli.main import run

    marks: dict[str, float] = {}

    def marking(fn, name):
        def wrapped(*args, **kwargs):
            value = fn(*args, **kwargs)
            marks.setdefault(name, time.time())
            return value
        return wrapped

    bars_process.GatedBars.result = marking(bars_process.GatedBars.result, "bars")
    make_desk, make = forecast.cli_desk, forecast._forecast

    def desk_loading(args):  # the weights are loaded by the desk's registry, at the forecast's start
        desk, loaded = make_desk(args)
        desk.registry.load = marking(desk.registry.load, "weights")
        return desk, loaded

    forecast.cli_desk = desk_loading

    def hooked(desk, bars, settings, args, on_progress, *rest):
        def first():
            marks.setdefault("first_step", time.time())
            on_progress()
        return make(desk, bars, settings, args, first, *rest)

    def starting(*args, **kwargs):
        marks.setdefault("sampling_start", time.time())
        return timed(*args, **kwargs)

    timed = marking(hooked, "forecast_done")
    forecast._forecast = starting
    # ``run`` ends the process after the exit handlers: the answer is printed by one.
    atexit.register(lambda: print(json.dumps(marks), flush=True))
    sys.argv = ["kronos", *argv]
    run()


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a measured process: the code beside this script first on the path."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "HF_HUB_OFFLINE": "1", **extra}


def forecast_run(model: Path, out: Path, ledger_db: str | None) -> tuple[dict[str, float], float]:
    """(seconds from process start to each milestone of ``child``, seconds to the end of the process) of
    one fresh run."""
    argv = ["forecast", str(SAMPLE), "--model", str(model), "--horizon", str(HORIZON), "--paths", str(PATHS),
            "--out", str(out), "--quiet"] + ([] if ledger_db else ["--no-ledger"])
    env = child_env(**({"KRONOS_STUDIO_DB": ledger_db} if ledger_db else {}))
    started = time.time()
    done = subprocess.run([sys.executable, __file__, "--child", *argv], capture_output=True, text=True, cwd=ROOT,
                          env=env)
    ended = time.time()
    marks = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {}
    if done.returncode != 0 or "first_step" not in marks:
        raise SystemExit(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "the child failed")
    return {k: t - started for k, t in marks.items()}, ended - started


def wall_s(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=True, cwd=ROOT, env=child_env())
    return time.perf_counter() - started


def kronos_command() -> list[str]:
    script = Path(sys.executable).parent / "kronos"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "kronos_studio.cli.main"]


HEAVY = ("torch", "pandas", "scipy", "scipy.stats", "statsmodels", "arch", "lightgbm", "ray", "sqlalchemy",
         "alembic", "chronos", "transformers", "sklearn", "plotly", "fastapi")


def app_child() -> None:
    """app.py's first page through AppTest (a multipage app: the navigation runs, as on a server), then a
    second session's; prints the wall clock (``time.time()``) of each run done and the heavy modules loaded."""
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest, app_test

    class NavigationPagesManager(PagesManager):  # as tests/app/conftest.py: app.py runs, not the page alone
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            PagesManager.uses_pages_directory = False

    app_test.PagesManager = NavigationPagesManager
    marks = {}
    from app_support import models

    start = getattr(models.WarmUp, "start", None)
    if start is not None:  # the warm-up starts once the page is drawn: what the page loaded is what is loaded then

        def starting(self):
            marks.setdefault("heavy", [m for m in HEAVY if m in sys.modules])
            start(self)

        models.WarmUp.start = starting
    first = None
    for name in ("cold", "warm"):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
        if first is not None:  # a process that has started: its background warm-up (torch, the model) done
            models.warm_up().thread.join(timeout=300)
            # A server scans the installed packages for components once, at start; AppTest scans again for
            # every new AppTest unless handed the first one's (a second or more of a "warm" page otherwise).
            at._bidi_component_manager = first._bidi_component_manager
            marks["warmed_up"] = time.time()
        first = at.run()
        marks[name] = time.time()
        if at.exception:
            raise SystemExit(f"the first page failed: {at.exception[0].value}")
        marks.setdefault("heavy", [m for m in HEAVY if m in sys.modules])
    print(json.dumps(marks), flush=True)
    os._exit(0)  # the background warm-up need not finish


def app_run(tmp: Path) -> dict:
    """Seconds from process start to the first page done (cold), the second session's page (warm), and the
    heavy modules the first page had loaded, in a fresh process with an empty cache and ledger."""
    cache = tempfile.mkdtemp(dir=tmp)
    env = child_env(KRONOS_STUDIO_CACHE=cache, KRONOS_STUDIO_DB=f"sqlite:///{cache}/ledger.sqlite")
    started = time.time()
    done = subprocess.run([sys.executable, __file__, "--app-child"], capture_output=True, text=True, cwd=ROOT, env=env)
    if done.returncode != 0 or not done.stdout.strip():
        raise SystemExit(done.stderr.strip()[-2000:] or "the app child failed")
    marks = json.loads(done.stdout.strip().splitlines()[-1])
    return {"cold": marks["cold"] - started, "warm": marks["warm"] - marks["warmed_up"], "heavy": marks["heavy"]}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def service_run(tmp: Path) -> float:
    """Seconds from ``kronos serve --open`` started to its first 200 from ``/health``."""
    import httpx

    port = free_port()
    env = child_env(KRONOS_STUDIO_DB=f"sqlite:///{tempfile.mkdtemp(dir=tmp)}/ledger.sqlite")
    started = time.perf_counter()
    server = subprocess.Popen([*kronos_command(), "serve", "--open", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.perf_counter() - started > 300:
                raise SystemExit("kronos serve did not start")
            time.sleep(0.02)
    finally:
        server.terminate()
        server.wait()


PARTS = ("help", "forecast", "app", "service")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--app-child":
        app_child()
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    args = parser.parse_args()
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    load_before = round(os.getloadavg()[0], 2)
    runs: dict[str, list] = {}
    milestones = {k: [] for k in ("bars", "weights", "first_step", "sampling_start", "forecast_done")}
    heavy = None

    def add(key, value):
        runs.setdefault(key, []).append(value)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if "forecast" in parts:
            model = build_mini(tmp / "mini")
            out = tmp / "q.csv"
            db = f"sqlite:///{tmp / 'ledger.sqlite'}"
            forecast_run(model, out, None)  # warm-up: the page cache, not the process, is what a repeat keeps
        for _ in range(args.runs):  # alternated, so that drifts of the machine's load hit every case alike
            if "forecast" in parts:
                for key, db_url in (("plain", None), ("ledger", db)):
                    marks, total = forecast_run(model, out, db_url)
                    add(key, marks["first_step"])
                    add(key + "_total", total)
                    if key == "plain":
                        # sampling: from the weights in hand (the desk loads them inside the forecast call) to
                        # the forecast done, as before the desk, when the call started with them loaded
                        sampling = marks["forecast_done"] - max(marks["sampling_start"], marks["weights"])
                        add("sampling", sampling)
                        add("overhead", total - sampling)
                        for name, at in marks.items():
                            milestones[name].append(at)
                # the floor under any forecast's overhead: a process that only imports what every forecast needs
                # (torch and pandas) and ends the way the CLI does (os._exit, no teardown)
                add("floor", wall_s([sys.executable, "-c", "import os, torch, pandas; os._exit(0)"]))
            if "help" in parts:
                add("import", wall_s([sys.executable, "-c", "import kronos_studio.cli.main"]))
                add("help", wall_s([*kronos_command(), "--help"]))
                add("forecast_help", wall_s([*kronos_command(), "forecast", "--help"]))
            if "app" in parts:
                page = app_run(tmp)
                add("app_cold", page["cold"])
                add("app_warm", page["warm"])
                heavy = page["heavy"]
            if "service" in parts:
                add("health", service_run(tmp))
    med = {k: round(statistics.median(v), 3) for k, v in runs.items()}
    result = {"runs": args.runs, "parts": parts, "cpu_count": os.cpu_count(), "load_average_1min_before": load_before}
    if "help" in parts:
        result.update(import_cli_s=med["import"], help_s=med["help"], forecast_help_s=med["forecast_help"],
                      target_help_s=0.3)
    if "forecast" in parts:
        result.update({"case": f"mini, {SAMPLE.name}, horizon {HORIZON} x {PATHS} paths",
                       "first_step_s": med["plain"], "first_step_min_s": round(min(runs["plain"]), 3),
                       "first_step_with_ledger_s": med["ledger"], "total_s": med["plain_total"],
                       "total_with_ledger_s": med["ledger_total"], "sampling_s": med["sampling"],
                       "forecast_overhead_s": med["overhead"], "target_forecast_overhead_s": 0.7,
                       "import_torch_pandas_floor_s": med["floor"],
                       "forecast_overhead_above_floor_s": round(med["overhead"] - med["floor"], 3),
                       # without the ledger, medians from process start: where the time to the first step goes
                       "milestones_s": {k: round(statistics.median(v), 3) for k, v in milestones.items() if v},
                       "target_first_step_s": 1.5})
    if "app" in parts:
        result.update(app_first_page_cold_s=med["app_cold"], app_first_page_warm_s=med["app_warm"],
                      app_heavy_modules=heavy, target_app_cold_s=3.0, target_app_warm_s=1.0)
    if "service" in parts:
        result.update(service_health_s=med["health"])
    result["load_average_1min_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
