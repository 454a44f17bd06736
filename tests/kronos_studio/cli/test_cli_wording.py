"""The command line words the library's errors: every setting a fix names becomes its flag (cli/errors.py)."""
from __future__ import annotations

import argparse
import ast
from pathlib import Path

from testkit import random_bars

from kronos.errors import Fix, InputError, Notice
from kronos_studio.cli import main as cli
from kronos_studio.cli.errors import cli_line, flag, notice_line
from kronos_studio.evaluation.training_period import INCLUDE_TRAINING_PERIOD

ROOT = Path(__file__).resolve().parents[3]


def test_a_fix_is_worded_with_the_flag_and_its_value():
    e = InputError("lookback is 500 bars but only 90 are available", {"lookback": 500},
                   Fix("lower {setting} or load more history", "lookback"))
    assert cli_line(e) == "lookback is 500 bars but only 90 are available: lower --lookback or load more history"
    assert flag("calendar", "XNYS") == "--calendar XNYS" and flag("resume", False) == "--no-resume"
    assert flag("include_training_period", True) == "--include-training-period"
    assert flag("no_such_setting", 3) == "no_such_setting=3"  # never a made-up flag
    assert notice_line(Notice("sort: bars out of order", (Fix("accept with {setting}", "fix", "sort"),))) == \
        "kronos: warning: sort: bars out of order: accept with --fix sort"


def test_the_command_prints_the_flag_the_library_only_names(tmp_path, capsys):
    """The library's refusal names the setting; ``kronos forecast`` says it as --lookback."""
    bars = tmp_path / "bars.csv"
    random_bars(90, freq="1h").to_csv(bars, index=False)
    code = cli.main(["forecast", str(bars), "--model", "random_walk", "--horizon", "3", "--lookback", "500",
                     "--no-ledger", "--quiet", "--out", str(tmp_path / "q.csv")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("kronos: error: lookback is 500 bars but only 90 are available")
    assert "lower the lookback (--lookback) or load more history" in err and "Traceback" not in err


# Settings the library names through a constant, their one home: the constant's name -> the setting.
SETTING_NAMES = {"INCLUDE_TRAINING_PERIOD": INCLUDE_TRAINING_PERIOD}


def named_settings() -> set[tuple[str, object]]:
    """(setting, value) of every ``Fix`` the library writes with literal arguments."""
    out = set()
    for folder in ("kronos", "kronos_studio", "data_sources"):
        for p in (ROOT / folder).rglob("*.py"):
            if "cli" in p.relative_to(ROOT).parts:
                continue
            for node in ast.walk(ast.parse(p.read_text())):
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Fix" and len(node.args) >= 2:
                    setting = node.args[1]
                    if isinstance(setting, ast.Name) and setting.id in SETTING_NAMES:  # a setting's named constant
                        setting = ast.Constant(SETTING_NAMES[setting.id])
                    if isinstance(setting, ast.Constant) and isinstance(setting.value, str):
                        value = node.args[2] if len(node.args) > 2 else None
                        out.add((setting.value, value.value if isinstance(value, ast.Constant) else None))
    return out


# Settings of bars fetched from a source (the HTTP API's and MCP's), which the command line reads from files only,
# and of use cases the command line does not offer (the Compare page's backtest: its cut-off).
SOURCE_ONLY = {"interval", "cutoff"}


def option_strings(parser: argparse.ArgumentParser) -> set[str]:
    out = set()
    for action in parser._actions:
        out |= set(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                out |= option_strings(sub)
    return out


def test_every_setting_the_library_names_is_a_flag_the_command_line_takes():
    found = named_settings()
    assert {("lookback", None), ("resume", False), ("include_training_period", True), ("symbol", None)} <= found
    options = option_strings(cli.build_parser())
    commands = set(subcommands(cli.build_parser()))
    words = {setting: flag(setting, value) for setting, value in found if setting not in SOURCE_ONLY}
    missing = {s: w for s, w in words.items()
               if not (w.removeprefix("kronos ") in commands if w.startswith("kronos ") else w.split()[0] in options)}
    assert not missing, f"settings named by the library with no such flag: {missing}"


def subcommands(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    """Every (sub)subcommand's parser by its words: 'evaluate', 'train lora', ..."""
    out = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out[f"{prefix}{name}"] = sub
                out |= subcommands(sub, f"{prefix}{name} ")
    return out


def test_the_training_period_switch_has_one_name_on_every_command_that_has_it():
    """Issue 51 item 19: it was --include-training-period on evaluate and train lora, --include-trained on batch and
    absent on retrain. Now one flag (the setting's, kept in one place), the old batch spelling still accepted but
    no longer listed, and no library guard names another setting."""
    switch = flag(INCLUDE_TRAINING_PERIOD, True)
    assert switch == "--include-training-period"
    commands = subcommands(cli.build_parser())
    having = {name for name, sub in commands.items()
              if any(INCLUDE_TRAINING_PERIOD == a.dest for a in sub._actions)}
    assert having == {"evaluate", "train lora", "batch", "retrain", "risk", "watch"}
    for name in having:
        [action] = [a for a in commands[name]._actions if switch in a.option_strings]
        assert action.dest == INCLUDE_TRAINING_PERIOD and action.help != argparse.SUPPRESS, name
    batch = commands["batch"]
    assert "--include-trained" not in batch.format_help() and switch in batch.format_help()
    assert batch.parse_args(["w.csv", "--horizon", "5", "--include-trained"]).include_training_period is True
    assert not any(setting.startswith("include") and setting != INCLUDE_TRAINING_PERIOD for setting, _ in named_settings())


def test_an_action_a_fix_asks_for_is_worded_by_each_face():
    """The library asks for an action by its setting; the command line names its command, the HTTP API its
    endpoint, the app where it is done."""
    from app_support.errors import app_message
    from kronos_studio.service.errors import one_line

    e = InputError("adapter 3 serves no longer", {"adapter": 3}, Fix("roll it back ({setting})", "rollback"))
    assert cli_line(e) == "adapter 3 serves no longer: roll it back (kronos adapters rollback)"
    assert one_line(e) == "adapter 3 serves no longer: roll it back (POST /v1/adapters/{id}/rollback)"
    assert "Fine-tune" in app_message(e) and "kronos" not in app_message(e)


def raising(monkeypatch, error: BaseException) -> None:
    """``kronos x`` runs a command that raises ``error``."""
    def parser(_whole=None):
        p = argparse.ArgumentParser(prog="kronos")
        p.add_argument("x")
        p.set_defaults(func=lambda _args: (_ for _ in ()).throw(error))
        return p

    monkeypatch.setattr(cli, "build_parser", parser)
    monkeypatch.delenv("KRONOS_DEBUG", raising=False)


def test_the_command_line_answers_every_refusal_as_the_other_faces_do(monkeypatch, capsys):
    """The faces disagreed: a plain ValueError or a missing file was 'internal error' (exit 1) on the command line
    and a refusal (422/404, the app's plain words) on the others; now a refusal everywhere (exit 2)."""
    for error, said in [(ValueError("the window must be positive"), "the window must be positive"),
                        (FileNotFoundError("no such file: bars.csv"), "no such file: bars.csv"),
                        (OverflowError("date value out of range"), "the bar times asked for run past")]:
        raising(monkeypatch, error)
        assert cli.main(["x"]) == 2
        assert capsys.readouterr().err.startswith(f"kronos: error: {said}")
    raising(monkeypatch, RuntimeError("boom\nmore"))  # a bug: one line with its type, exit 1
    assert cli.main(["x"]) == 1
    err = capsys.readouterr().err
    assert err == "kronos: internal error: RuntimeError: boom (set KRONOS_DEBUG=1 for the traceback)\n"


def test_each_face_words_one_refusal_in_the_studios_words_and_a_bug_with_its_type(tmp_path):
    """One rule for what is a refusal (``kronos.errors.refusal``) and one rewording of a data library's words
    (``data_sources.errors.in_studio_words``) behind the command line, the HTTP API and the app."""
    from app_support.errors import app_message
    from data_sources.errors import SourceUnavailableError
    from kronos.errors import UserError
    from kronos_studio.service.errors import as_service_error, bug_line

    source = SourceUnavailableError("yfinance cannot be reached (ConnectionError: curl: (6) no host) for A (1d)")
    worded = {cli_line(source), app_message(source), as_service_error(source).detail}
    assert worded == {"yfinance cannot be reached for A (1d)"} and as_service_error(source).status == 400
    missing = FileNotFoundError("no such file: x.csv")
    assert app_message(missing) == cli_line(missing) == "no such file: x.csv" == as_service_error(missing).detail
    assert as_service_error(UserError("a plain library refusal")).status == 422  # was 500 on the HTTP API
    bug = RuntimeError(f"failed at {tmp_path / 'secret' / 'x.py'}")
    assert as_service_error(bug) is None and app_message(bug).startswith("RuntimeError: failed at ")
    assert bug_line(bug) == "internal error: RuntimeError: failed at x.py"
