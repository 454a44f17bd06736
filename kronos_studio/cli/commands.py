"""The ``kronos`` subcommands: each one's one-line help and the modules that add its options and run it.

``kronos --help`` reads this table alone, and a command line imports only the modules of the subcommand it
names, so no subcommand pays for another's libraries (issue 57: ``kronos --help`` in well under 0.3 s).
Imports nothing beyond the standard library."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    help: str
    # kronos_studio.cli modules, in order: the first's ``register(sub)`` adds the subcommand (and returns its
    # own subparsers when the others add theirs to it, as ``kronos train``'s do)
    modules: tuple[str, ...]


COMMANDS: dict[str, Command] = {
    "forecast": Command("forecast the bars in a CSV/Parquet file", ("forecast",)),
    "evaluate": Command("walk-forward a model and the naive baselines on a file", ("evaluate",)),
    "risk": Command("VaR, ES and volatility from a forecast's paths, or their backtest (--backtest)", ("risk",)),
    "ledger": Command("score, export and locate the forecast ledger", ("ledger",)),
    "batch": Command("forecast every series of a watchlist (screener)", ("batch",)),
    "serve": Command("serve forecasts, evaluations, batch jobs and the ledger over HTTP", ("serve",)),
    "mcp": Command("serve forecast, evaluate, risk, screen and track-record as MCP tools", ("mcp",)),
    "keys": Command("create, list and revoke API keys of `kronos serve`", ("keys",)),
    "retrain": Command("train a LoRA challenger on recent bars; it serves only if it beats the champion",
                       ("retrain",)),
    "adapters": Command("the model registry: list, show, promote, roll back", ("adapters",)),
    "watch": Command("run the learning loop over a watchlist: live at each bar close, --once, or --replay-from past "
                     "days", ("watch",)),
    "watches": Command("the watches kept in the ledger: list, show their ticks and alerts, pause, resume, delete",
                       ("watch",)),
    "train": Command("train or fine-tune a tokenizer / predictor on bars", ("train", "lora", "train_ensemble")),
}


def add_command(sub, name: str, **kwargs):
    """``sub.add_parser(name)`` with the table's help: the subcommand modules add theirs through this."""
    return sub.add_parser(name, help=COMMANDS[name].help, **kwargs)


def named_command(argv: list[str]) -> str | None:
    """The subcommand ``argv`` names (its first word that is not an option), or None (``kronos --help``,
    ``kronos --version``, a misspelt name: argparse answers those from the table)."""
    for word in argv:
        if word == "--":
            break
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None
