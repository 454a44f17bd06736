"""Issue 62 items 12 and 16: ``kronos risk --backtest`` named the asked model's row by its key (``model``), and
``kronos risk --help`` said of ``--no-per-step`` what the setting does when on, as if the option did it."""
from __future__ import annotations

import re

from testkit import random_bars

from kronos_studio.cli import main as cli


def test_the_backtest_table_names_each_model_the_asked_one_too(tmp_path, capsys):
    file = tmp_path / "bars.csv"
    random_bars(560, seed=11, freq="1d").to_csv(file, index=False)
    code = cli.main(["risk", str(file), "--model", "garch", "--horizon", "1", "--paths", "40", "--levels", "0.95",
                     "--positions", "long", "--backtest", "--cutoffs", "20", "--no-baselines"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert not [line for line in lines if re.match(r"model\s+[\d–]", line)], out  # the key the desk files it under
    # its row in every table (exceptions, verdicts, FZ0, variance: the desk's worded tables), by its name
    assert sum(line.startswith("GARCH(1,1)") for line in lines) == 4, out
    assert any(re.match(r"GARCH\(1,1\)-t\s+(passes|flagged|rejected)", line) for line in lines), out


def test_a_switch_on_by_default_says_its_option_turns_it_off(capsys):
    try:
        cli.main(["risk", "--help"])
    except SystemExit:
        pass
    help_text = " ".join(capsys.readouterr().out.split())
    said = help_text[help_text.index("--no-per-step turn"):].split(" --")[0]
    assert said.startswith("--no-per-step turn off 'VaR/ES at every step' (on by default; when on: also read VaR"), said
