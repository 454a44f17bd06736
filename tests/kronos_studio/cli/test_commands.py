"""The subcommand table (``kronos_studio.cli.commands``): ``kronos --help`` is answered from it alone, and a
command line builds only the subcommand it names, with the same options as the whole parser."""
from __future__ import annotations

import argparse

import pytest

from kronos_studio.cli.commands import COMMANDS, named_command
from kronos_studio.cli.main import build_parser


def subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    [action] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return action


def listed(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Each subcommand's name and the help ``kronos --help`` shows for it."""
    return {a.dest: a.help for a in subparsers(parser)._choices_actions}


def options(parser: argparse.ArgumentParser) -> dict[str, object]:
    """Every option and positional of ``parser`` and of its own subcommands, with their defaults."""
    out = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out |= {f"{name} {k}": v for k, v in options(sub).items()}
        else:
            out[action.dest + "".join(action.option_strings)] = action.default
    return out


def test_the_whole_parser_lists_the_table_in_its_order_with_its_help():
    assert listed(build_parser()) == {name: c.help for name, c in COMMANDS.items()}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_named_subcommand_is_built_whole_and_the_others_by_name(name):
    whole = subparsers(build_parser()).choices
    parser = build_parser(name)
    assert listed(parser) == listed(build_parser())
    built = subparsers(parser).choices
    assert options(built[name]) == options(whole[name])
    others = {n for n in COMMANDS if COMMANDS[n].modules[0] != COMMANDS[name].modules[0]}
    assert all(options(built[n]) == {"help-h--help": argparse.SUPPRESS} for n in others)


def test_the_named_subcommand_is_the_first_word_that_is_not_an_option():
    assert named_command(["forecast", "x.csv", "--out", "q.csv"]) == "forecast"
    assert named_command(["--version"]) is None
    assert named_command(["--help"]) is None
    assert named_command(["forcast", "x.csv"]) is None  # argparse says which names there are
    assert named_command(["train", "lora", "--help"]) == "train"
    assert named_command(["--", "forecast"]) is None


def test_a_misspelt_subcommand_is_refused_with_the_names(capsys):
    from kronos_studio.cli.main import main

    with pytest.raises(SystemExit) as exit_:  # argparse's own refusal, as for any bad argument
        main(["forcast", "x.csv"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'forcast'" in err and "'forecast'" in err and "'adapters'" in err
