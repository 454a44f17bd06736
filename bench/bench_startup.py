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
    forecast.load_forecaster = marking(forecast.load_forecaster, "weights")
    make = forecast._forecast

    def hooked(forecaster, bars, settings, args, on_progress, *rest):
        def first():
            marks.setdefault("first_step", time.time())
            on_progress()
        return make(forecaster, bars, settings, args, first, *rest)

    forecast._forecast = marking(hooked, "forecast_done")
    # ``run`` ends the process after the exit handlers: the answer is printed by one.
    atexit.register(lambda: print(json.dumps(marks), flush=True))
    sys.argv = ["kronos", *argv]
    run()


def forecast_run(model: Path, out: Path, ledger_db: str | None) -> tuple[dict[str, float], float]:
    """(seconds from process start to each milestone of ``child``, seconds to the end of the process) of
    one fresh run."""
    argv = ["forecast", str(SAMPLE), "--model", str(model), "--horizon", str(HORIZON), "--paths", str(PATHS),
            "--out", str(out), "--quiet"] + ([] if ledger_db else ["--no-ledger"])
    env = {**os.environ, **({"KRONOS_STUDIO_DB": ledger_db} if ledger_db else {})}
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
    subprocess.run(cmd, capture_output=True, check=True, cwd=ROOT)
    return time.perf_counter() - started


def kronos_command() -> list[str]:
    script = Path(sys.executable).parent / "kronos"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "kronos_studio.cli.main"]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = build_mini(tmp / "mini")
        out = tmp / "q.csv"
        db = f"sqlite:///{tmp / 'ledger.sqlite'}"
        forecast_run(model, out, None)  # warm-up: the page cache, not the process, is what a repeat keeps
        runs = {k: [] for k in ("plain", "plain_total", "ledger", "ledger_total", "import", "help")}
        milestones = {k: [] for k in ("bars", "weights", "first_step", "forecast_done")}
        for _ in range(args.runs):  # alternated, so that drifts of the machine's load hit every case alike
            for key, db_url in (("plain", None), ("ledger", db)):
                marks, total = forecast_run(model, out, db_url)
                runs[key].append(marks["first_step"])
                runs[key + "_total"].append(total)
                if key == "plain":
                    for name, at in marks.items():
                        milestones[name].append(at)
            runs["import"].append(wall_s([sys.executable, "-c", "import kronos_studio.cli.main"]))
            runs["help"].append(wall_s([*kronos_command(), "--help"]))
    med = {k: round(statistics.median(v), 3) for k, v in runs.items()}
    print(json.dumps({"case": f"mini, {SAMPLE.name}, horizon {HORIZON} x {PATHS} paths",
                      "first_step_s": med["plain"], "first_step_min_s": round(min(runs["plain"]), 3),
                      "first_step_with_ledger_s": med["ledger"], "total_s": med["plain_total"],
                      "total_with_ledger_s": med["ledger_total"], "import_cli_s": med["import"],
                      "help_s": med["help"],
                      # without the ledger, medians from process start: where the time to the first step goes
                      "milestones_s": {k: round(statistics.median(v), 3) for k, v in milestones.items() if v},
                      "target_first_step_s": 1.5, "runs": args.runs,
                      "cpu_count": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
