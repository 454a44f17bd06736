"""The ``kronos`` command, run as a user would (in this process: ``testkit.run_cli``), offline."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys

import pandas as pd
import pytest
from testkit import (
    DATA_FIXTURES,  # noqa: E402
    fill_hub_cache,
    random_bars,
    run_cli,
)

from kronos.config import OFFICIAL_MODELS


@pytest.fixture(scope="module")
def bars_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "bars.csv"
    random_bars(120, freq="1h").to_csv(path, index=False)
    return path


def test_forecast_writes_quantiles_paths_and_provenance(random_model, bars_csv, tmp_path):
    folder = random_model("tiny").folder
    (folder / "bundle.json").write_text(json.dumps({"context": 64, "name": "tiny"}))
    out, paths, prov = tmp_path / "q.csv", tmp_path / "paths.csv", tmp_path / "prov.json"
    r = run_cli("forecast", bars_csv, "--model", folder, "--horizon", 12, "--paths", 10, "--seed", 3,
                "--temperature", 0.8, "--top-p", 0.9, "--top-k", 0, "--lookback", 100,
                "--quantiles", "0.1,0.5,0.9", "--out", out, "--paths-out", paths, "--provenance-out", prov,
                "--device", "cpu")
    assert r.returncode == 0, r.stderr
    q = pd.read_csv(out)
    assert len(q) == 12 and q.columns[0] == "timestamp"
    assert {"close_p10", "close_p50", "close_p90", "volume_p50"} <= set(q.columns)
    last = pd.Timestamp(random_bars(120, freq="1h")["timestamp"].iloc[-1])
    first = pd.Timestamp(q["timestamp"].iloc[0])
    assert (first.tz_localize(None) if first.tz else first) > last
    p = pd.read_csv(paths)
    assert len(p) == 10 * 12 and p["path"].nunique() == 10
    meta = json.loads(prov.read_text())
    assert meta["seed"] == 3 and meta["bars_used"] == 100 and meta["settings"]["temperature"] == 0.8
    assert meta["series"]["symbol"] == "bars" and meta["series"]["file"] == str(bars_csv.resolve())  # file's name
    assert meta["precision"] == "fp32"  # the default: the official numbers


def test_forecast_in_bf16_says_so_in_its_provenance(random_model, bars_csv, tmp_path):
    folder = random_model("tiny").folder
    (folder / "bundle.json").write_text(json.dumps({"context": 64, "name": "tiny"}))
    out, prov = tmp_path / "q.csv", tmp_path / "prov.json"
    r = run_cli("forecast", bars_csv, "--model", folder, "--horizon", 4, "--paths", 4, "--precision", "bf16",
                "--out", out, "--provenance-out", prov, "--device", "cpu", "--quiet", "--no-ledger")
    assert r.returncode == 0, r.stderr
    assert json.loads(prov.read_text())["precision"] == "bf16"
    assert pd.read_csv(out)["close_p50"].notna().all()


def test_the_thread_budget_is_in_version_and_in_each_forecasts_provenance(random_model, bars_csv, tmp_path):
    """``kronos --version`` says the threads a computation gets here and why; ``--threads`` (or
    KRONOS_STUDIO_THREADS) fixes them, the provenance records them, and a bad value is one line."""
    from kronos.threads import usable_cores

    cores = usable_cores()
    clean = {"KRONOS_STUDIO_THREADS": "", "OMP_NUM_THREADS": ""}
    version = run_cli("--version", env=clean)
    assert version.returncode == 0 and version.stdout.startswith("kronos-studio ") and "torch " in version.stdout
    assert f"threads: {cores.count} per computation alone ({cores.count} core" in version.stdout
    assert f"limited by {cores.limited_by}), shared with the other kronos computations" in version.stdout
    fixed = run_cli("--version", env={**clean, "KRONOS_STUDIO_THREADS": "1"}).stdout
    assert "threads: 1 per computation (KRONOS_STUDIO_THREADS 1;" in fixed
    folder = random_model("tiny").folder
    (folder / "bundle.json").write_text(json.dumps({"context": 64, "name": "tiny"}))
    out, prov = tmp_path / "q.csv", tmp_path / "prov.json"
    args = ["forecast", bars_csv, "--model", folder, "--horizon", 4, "--paths", 4, "--out", out, "--quiet", "--no-ledger"]
    r = run_cli(*args, "--provenance-out", prov, "--threads", 1, env=clean)
    assert r.returncode == 0, r.stderr
    assert json.loads(prov.read_text())["threads"] == {
        "threads": 1, "cores": cores.count, "limited_by": cores.limited_by, "setting": 1, "asked_by": "threads",
        "shared": False, "computing": 1}
    bad = run_cli(*args, env={**clean, "KRONOS_STUDIO_THREADS": "all"})
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and bad.stderr.strip().count("\n") == 0
    assert "KRONOS_STUDIO_THREADS must be a whole number of threads, 1 or more, got 'all'" in bad.stderr
    assert "or use --threads" in bad.stderr


def test_official_name_from_hub_cache(random_model, bars_csv, tmp_path):
    o = random_model("mini")
    spec = OFFICIAL_MODELS["mini"]
    cache = tmp_path / "hub"
    fill_hub_cache(cache, spec.repo_id, spec.revision, o.folder / "predictor")
    fill_hub_cache(cache, spec.tokenizer_repo_id, spec.tokenizer_revision, o.folder / "tokenizer")
    out = tmp_path / "q.csv"
    r = run_cli("forecast", bars_csv, "--model", "mini", "--horizon", 4, "--paths", 2, "--out", out, "--quiet",
                env={"HF_HUB_CACHE": str(cache)})
    assert r.returncode == 0, r.stderr
    assert len(pd.read_csv(out)) == 4


@pytest.mark.parametrize("args,message", [
    (["--horizon", "0"], "horizon must be at least 1"),
    (["--horizon", "5", "--top-p", "2"], "top_p"),
    (["--horizon", "5", "--model", "small"], "not in the local Hugging Face cache"),
    (["--horizon", "5", "--model", "/no/such/folder"], "does not exist"),
    (["--horizon", "5", "--lookback", "5000"], "only 120 are available"),
])
def test_bad_input_is_one_line_without_traceback(random_model, bars_csv, tmp_path, args, message):
    folder = random_model("tiny").folder
    model = [] if "--model" in args else ["--model", str(folder)]
    r = run_cli("forecast", bars_csv, *model, *args, "--out", tmp_path / "q.csv",
                env={"HF_HUB_CACHE": str(tmp_path / "empty")})
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert message in r.stderr and r.stderr.strip().count("\n") == 0, r.stderr


def test_context_for_a_folder_without_bundle_json(random_model, bars_csv, tmp_path):
    """--context names what a folder without bundle.json reads; without it the output says what was assumed."""
    folder = tmp_path / "model"
    shutil.copytree(random_model("tiny").folder, folder, ignore=shutil.ignore_patterns("bundle.json"))
    args = ["forecast", bars_csv, "--model", folder, "--horizon", 8, "--paths", 2, "--out", tmp_path / "q.csv",
            "--provenance-out", tmp_path / "run.json", "--quiet", "--no-ledger"]
    r = run_cli(*args, "--context", 64)
    assert r.returncode == 0, r.stderr
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["context"] == 64 and run["bars_used"] == 64 - 8  # the default lookback: context - horizon
    assert "assumed" not in r.stderr.splitlines()[-1]  # the output line: a context given is no guess
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "run.json").read_text())["context"] == 512
    assert "context 512 assumed (no bundle.json: pass --context)" in r.stderr.splitlines()[-1]
    r = run_cli("evaluate", bars_csv, "--model", folder, "--context", 64, "--horizon", 4, "--cutoffs", 2,
                "--paths", 2, "--json", tmp_path / "ev.json")
    assert r.returncode == 0, r.stderr
    ev = json.loads((tmp_path / "ev.json").read_text())
    assert ev["model"]["context"] == 64 and ev["lookback"] == 64 - 4


@pytest.mark.parametrize("command", ["forecast", "evaluate"])
@pytest.mark.parametrize("model,known", [("bundle", 64), ("mini", OFFICIAL_MODELS["mini"].context)])
def test_context_contradicting_the_model_is_refused(random_model, bars_csv, tmp_path, command, model, known):
    """A model that knows its context (bundle.json, an official name) refuses another --context, before any
    loading or download."""
    if model == "bundle":
        model = tmp_path / "model"
        shutil.copytree(random_model("tiny").folder, model)
        (model / "bundle.json").write_text(json.dumps({"context": known, "name": "tiny"}))
    out = ["--out", tmp_path / "q.csv"] if command == "forecast" else ["--json", tmp_path / "ev.json"]
    r = run_cli(command, bars_csv, "--model", model, "--context", 2 * known, "--horizon", 4, *out,
                env={"HF_HUB_CACHE": str(tmp_path / "empty")})
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0, r.stderr
    assert f"--context {2 * known} contradicts the {known} bars" in r.stderr and "Traceback" not in r.stderr
    r = run_cli(command, bars_csv, "--model", model, "--context", known, "--horizon", 4, *out, "--paths", 2,
                *(["--cutoffs", 2] if command == "evaluate" else ["--no-ledger"]),
                env={"HF_HUB_CACHE": str(tmp_path / "empty")})
    if model == "mini":  # the same context passes the check; the model is then looked for (not cached here)
        assert r.returncode == 2 and "not in the local Hugging Face cache" in r.stderr, r.stderr
    else:
        assert r.returncode == 0, r.stderr


def test_missing_and_malformed_files(random_model, tmp_path):
    folder = random_model("tiny").folder
    r = run_cli("forecast", tmp_path / "none.csv", "--model", folder, "--horizon", 3, "--out", tmp_path / "q.csv")
    assert r.returncode == 2 and "does not exist" in r.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    r = run_cli("forecast", bad, "--model", folder, "--horizon", 3, "--out", tmp_path / "q.csv")
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.strip().count("\n") == 0
    assert "timestamp" in r.stderr or "close" in r.stderr


def test_quality_gate_blocks_until_the_offered_fix_is_accepted(random_model, tmp_path):
    folder = random_model("tiny").folder
    frame = random_bars(120, freq="1h")
    dup = tmp_path / "dup.csv"
    pd.concat([frame, frame.iloc[[50]]]).to_csv(dup, index=False)  # one duplicated bar at the end: unsorted too
    args = ["forecast", dup, "--model", folder, "--horizon", 3, "--paths", 2, "--out", tmp_path / "q.csv",
            "--timezone", "UTC", "--calendar", "24/7"]
    r = run_cli(*args)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0, r.stderr
    assert "duplicate_timestamps" in r.stderr and "--fix drop_duplicates" in r.stderr
    r = run_cli(*args, "--fix", "drop_duplicates", "--fix", "sort")
    assert r.returncode == 0, r.stderr
    assert len(pd.read_csv(tmp_path / "q.csv")) == 3
    r = run_cli(*args[:-4], "--out", tmp_path / "q.csv", "--calendar", "NOPE")
    assert r.returncode == 2 and "NOPE" in r.stderr


@pytest.mark.parametrize("layout", ["long", "wide"])
def test_a_multi_ticker_file_needs_symbol(random_model, tmp_path, layout):
    """Long (a symbol column) or wide (AAA:open ... BBB:open, issue 21 item 7): --symbol picks one."""
    folder = random_model("tiny").folder
    a, b = random_bars(120, seed=1, freq="1h"), random_bars(120, seed=2, freq="1h")
    b[["open", "high", "low", "close"]] *= 10  # another instrument at another price level
    if layout == "long":
        table = pd.concat([a.assign(symbol="AAA"), b.assign(symbol="BBB")])
    else:
        table = pd.concat([a[["timestamp"]], a.drop(columns="timestamp").add_prefix("AAA:"),
                           b.drop(columns="timestamp").add_prefix("BBB:")], axis=1)
    path = tmp_path / f"{layout}.csv"
    table.to_csv(path, index=False)
    args = ["forecast", path, "--model", folder, "--horizon", 3, "--paths", 4, "--out", tmp_path / "q.csv",
            "--timezone", "UTC", "--calendar", "24/7"]
    r = run_cli(*args)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0, r.stderr
    assert "2 instruments" in r.stderr and "AAA, BBB" in r.stderr and "choose one with --symbol" in r.stderr
    r = run_cli(*args, "--symbol", "BBB", "--provenance-out", tmp_path / "run.json")
    assert r.returncode == 0, r.stderr
    series = json.loads((tmp_path / "run.json").read_text())["series"]
    assert series["symbol"] == series["series_symbol"] == "BBB"  # the instrument names the series, not the file
    assert series["exchange"] is None and series["naming"] is None
    q = pd.read_csv(tmp_path / "q.csv")
    last = b["close"].iloc[-1]
    assert (q["close_p50"] / last).between(0.5, 2).all()  # BBB's level, not a mixture with AAA's


def test_a_horizon_one_past_the_bundled_context(bars_csv, tmp_path):
    """The bundled model reads 128 bars: a 129-bar forecast slides the window and every bar is decoded
    (it failed after sampling with 'cannot reshape array', issue 21 item 5)."""
    from kronos_studio.bundled import bundled_models

    folder = bundled_models().get("studio-tiny")
    if folder is None:
        pytest.skip("the bundled studio-tiny model is not present")
    out = tmp_path / "q.csv"
    r = run_cli("forecast", bars_csv, "--model", folder, "--horizon", 129, "--paths", 2, "--out", out,
                "--device", "cpu", "--quiet")
    assert r.returncode == 0, r.stderr
    q = pd.read_csv(out)
    assert len(q) == 129 and q["close_p50"].notna().all()


@pytest.mark.parametrize("command", ["forecast", "evaluate"])
def test_a_bundled_model_is_named_as_the_app_lists_it(bars_csv, tmp_path, command):
    """Issue 45 item 10: `--model studio-tiny` failed with "not an official model name ... pass --tokenizer"
    although the app lists the bundled models by name."""
    from kronos_studio.bundled import bundled_models

    if "studio-tiny" not in bundled_models():
        pytest.skip("the bundled studio-tiny model is not present")
    out = tmp_path / "out"
    extra = ("--out", out, "--no-ledger", "--quiet") if command == "forecast" else ("--cutoffs", 2, "--lookback", 60,
                                                                                    "--include-training-period", "--json", out)
    r = run_cli(command, bars_csv, "--model", "studio-tiny", "--horizon", 3, "--paths", 2, "--device", "cpu", *extra)
    assert r.returncode == 0, r.stderr
    named = r.stderr.splitlines()[-1] if command == "forecast" else json.loads(out.read_text())["model"]["model"]
    assert "studio-tiny" in named


def test_the_bundled_chronos2_named_as_a_model_forecasts_alone(bars_csv, tmp_path):
    """Issue 62, item 11: chronos2-small named as the model was refused without --with ("a member of the
    ensemble"): it is Chronos-2 alone, the "without" arm of a covariate comparison, and says so."""
    from kronos_studio.ensemble.chronos2 import BUNDLED_CHRONOS2

    if not BUNDLED_CHRONOS2.is_dir():
        pytest.skip("the bundled Chronos-2 is not present")
    r = run_cli("forecast", bars_csv, "--model", "chronos2-small", "--horizon", 3, "--out", tmp_path / "q.csv",
                "--no-ledger")
    assert r.returncode == 0, r.stderr
    assert "note: Chronos-2 alone, conditioned on nothing" in r.stderr and "a member of the ensemble" not in r.stderr
    assert len(pd.read_csv(tmp_path / "q.csv")) == 3


def test_a_three_bar_history_is_refused_and_a_short_calendar_is_said(random_model, tmp_path):
    """Issue 45 item 2: 3 daily rows were forecast (exit 0) with future bars on a weekend; refused now,
    with the bars given, the bars needed and the fix. A history long enough for the model but too short
    to tell a calendar (a day of hourly bars) is forecast, and the warning says the future bar times
    follow a rhythm read from too little."""
    from kronos.config import MIN_HISTORY

    folder = random_model("tiny").folder
    three = tmp_path / "three.csv"
    random_bars(3, freq="B", start="2024-03-06").to_csv(three, index=False)
    r = run_cli("forecast", three, "--model", folder, "--horizon", 10, "--out", tmp_path / "q.csv", "--no-ledger")
    assert r.returncode == 2 and not (tmp_path / "q.csv").exists()
    line = r.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert "the history has 3 bars but " in line and f" needs at least {MIN_HISTORY} " in line
    assert f"load at least {MIN_HISTORY} bars" in line
    day = tmp_path / "day.csv"
    random_bars(24, freq="1h", start="2024-03-06").to_csv(day, index=False)
    r = run_cli("forecast", day, "--model", folder, "--horizon", 3, "--paths", 2, "--out", tmp_path / "q.csv",
                "--no-ledger", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "kronos: warning: unknown_calendar:" in r.stderr and "too few to tell a trading calendar" in r.stderr


def test_the_reader_says_which_volume_column_became_what(random_model, tmp_path):
    """Issue 21 item 4 on the command line: a CryptoDataDownload export's notes are printed."""

    folder = random_model("tiny").folder
    path = DATA_FIXTURES / "cdd_coinbase_BTCUSD_1h.csv"
    r = run_cli("forecast", path, "--model", folder, "--horizon", 3, "--paths", 2, "--lookback", 24,
                "--out", tmp_path / "q.csv", "--no-ledger")
    assert r.returncode == 0, r.stderr
    assert "kronos: note: column 'Volume BTC' read as the volume (base currency)" in r.stderr
    assert "kronos: note: column 'Volume USD' read as the amount (quote-currency turnover)" in r.stderr
    assert r.stderr.splitlines()[-1].startswith("wrote 3 rows")


def test_forecast_from_one_path_says_it_has_no_band(random_model, bars_csv, tmp_path):
    """Issue 21: one sample path gives a 'band' of width 0 and P(up) 0% or 100%: said, never silent."""
    folder = random_model("tiny").folder
    (folder / "bundle.json").write_text(json.dumps({"context": 64, "name": "tiny"}))
    r = run_cli("forecast", bars_csv, "--model", folder, "--horizon", 3, "--paths", 1, "--out", tmp_path / "q.csv",
                "--device", "cpu", "--quiet", "--no-ledger")
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stderr.splitlines() if "too_few_paths" in x)
    assert line.startswith("kronos: warning:") and "width 0" in line and "at least 2" in line


def test_ctrl_c_while_the_subcommands_load_is_one_line(monkeypatch, capsys):
    """The subcommand's module (and numpy with it) loads inside ``main``, so a Ctrl-C while it loads is answered
    like one during the run: one line and exit code 130, not a traceback from an import."""
    from kronos_studio.cli import main as cli

    real_import = cli.import_module

    def interrupted_import(name, *args):
        if name == "kronos_studio.cli.forecast":
            raise KeyboardInterrupt
        return real_import(name, *args)

    monkeypatch.setattr(cli, "import_module", interrupted_import)
    assert cli.main(["forecast", "--help"]) == 130
    assert capsys.readouterr().err == "kronos: interrupted\n"


@pytest.mark.skipif(sys.platform == "win32", reason="signals as a terminal sends them: POSIX")
def test_an_exit_waiting_for_a_background_compile_says_so_and_a_ctrl_c_ends_it(tmp_path):
    """A process whose command is done while compiled decode steps are still being built waits for the build
    (ending mid-compile aborted it), says so in one line, and a Ctrl-C then ends it at once with the
    command's own code: no silent minute, no traceback."""
    script = (
        "import sys, threading, time\n"
        "from kronos.accel.static_decode import BUILD_THREAD_NAME\n"
        "from kronos_studio.cli.main import run\n"
        "threading.Thread(target=time.sleep, args=(3600,), name=BUILD_THREAD_NAME).start()\n"  # stands for inductor
        "sys.argv = ['kronos', 'keys', 'list']\n"
        "run()\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "KRONOS_STUDIO_DB": f"sqlite:///{tmp_path / 'ledger.db'}"})
    try:
        lines = [proc.stderr.readline() for _ in range(2)]  # the command's own line, then the notice
        assert lines[1].startswith("kronos: waiting for the decode steps compiling in the background"), lines
        assert proc.poll() is None  # it waits for the build
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=300) == 0  # long before the build's hour; the command's code, not 130: its work was done
        rest = proc.stderr.read()
        assert "Traceback" not in rest and "KeyboardInterrupt" not in rest, rest
    finally:
        proc.kill()
        proc.communicate()


@pytest.mark.skipif(sys.platform == "win32", reason="signals sent to oneself as a terminal does: POSIX")
def test_ctrl_c_after_the_work_is_done_ends_at_once_with_the_commands_code(tmp_path):
    """A Ctrl-C while the exit handlers run (the output is written by then) ends the process at once with
    the command's own exit code, what it printed flushed: no traceback from the handler, and the rest of the
    handler does not run."""
    script = (
        "import atexit, os, signal, sys, time\n"
        "from kronos_studio.cli.main import run\n"
        "def late():\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(30)\n"
        "    print('the handler ran on', file=sys.stderr)\n"
        "atexit.register(late)\n"
        "sys.argv = ['kronos', 'keys', 'list']\n"
        "print('printed by the command')\n"  # still in stdout's buffer when the handlers run (a pipe)
        "run()\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout block-buffered, as in a pipe
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=25,
                       env={**env, "KRONOS_STUDIO_DB": f"sqlite:///{tmp_path / 'ledger.db'}"})
    assert r.returncode == 0, r.stderr
    assert r.stdout == "printed by the command\n"  # flushed before the process ends
    assert "Traceback" not in r.stderr and "KeyboardInterrupt" not in r.stderr and "ran on" not in r.stderr, r.stderr


def test_the_output_line_says_why_the_lookback_is_what_it_is(random_model, tmp_path):
    """Issue 51 item 15: "lookback 25 (default: context - horizon)" for a 25-row file was not the reason."""
    folder = tmp_path / "model"
    shutil.copytree(random_model("tiny").folder, folder, ignore=shutil.ignore_patterns("bundle.json"))
    (folder / "bundle.json").write_text(json.dumps({"context": 64, "name": "tiny"}))
    args = ["--model", folder, "--horizon", 8, "--paths", 2, "--out", tmp_path / "q.csv", "--quiet", "--no-ledger"]
    short = tmp_path / "short.csv"
    random_bars(25, freq="1h").to_csv(short, index=False)
    r = run_cli("forecast", short, *args)
    assert r.returncode == 0, r.stderr
    said = r.stderr.splitlines()[-1]
    assert "lookback 25 (all 25 bars there are; it reads 56 when it has them (context 64 - horizon 8))" in said
    assert "default: context - horizon" not in said
    long = tmp_path / "long.csv"
    random_bars(120, freq="1h").to_csv(long, index=False)
    r = run_cli("forecast", long, *args)
    assert "lookback 56 (default: context 64 - horizon 8)" in r.stderr.splitlines()[-1], r.stderr
    r = run_cli("forecast", long, *args[:-4], "--horizon", 50, "--out", tmp_path / "q.csv", "--quiet", "--no-ledger")
    assert "lookback 32 (default: half the context 64, as context - horizon would leave 14)" in r.stderr.splitlines()[-1]
    r = run_cli("forecast", long, *args, "--lookback", 40)
    assert "lookback 40," in r.stderr.splitlines()[-1]  # asked for: nothing to explain
