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


def test_the_champion_choice_is_a_table_of_candidates_by_name_best_fz0_first(tmp_path, capsys):
    """``kronos risk --choose-champion`` prints the desk's worded table (``desk.risk_tables.champion_tables``): each
    candidate by its name (its key before), its mean FZ0, QLIKE, verdict and exceptions, the lowest FZ0 first."""
    file = tmp_path / "bars.csv"
    random_bars(560, seed=11, freq="1d").to_csv(file, index=False)
    code = cli.main(["risk", str(file), "--symbol", "CHAMPION-TABLE", "--horizon", "1", "--paths", "200",
                     "--choose-champion", "--candidates", "standard", "--cutoffs", "30", "--warmup", "20"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("Risk champion: ")
    # 30 cut-offs test the 0.95 VaRs and no 0.99 one: every verdict rests on 0.95 alone, said once above the table
    assert "Verdicts: no test ran at long 0.99, short 0.99: the verdict does not speak for them" in lines, out
    head = next(i for i, line in enumerate(lines) if line.startswith("Model "))
    assert re.match(r"Model\s+FZ0\s+QLIKE\s+Verdict\s+Exceptions$", lines[head]), lines[head]
    rows = lines[head + 1:]
    assert any(row.startswith("GARCH(1,1)-t, recalibrated ") for row in rows) and not any(
        row.startswith(("garch", "ewma_normal")) for row in rows), out
    fz0 = [float(re.search(r"\s(-?\d+\.\d{4})\s", row).group(1)) for row in rows]
    assert fz0 == sorted(fz0) and all("long 0.95 " in row for row in rows), out
