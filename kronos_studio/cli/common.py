"""Helpers shared by the ``kronos`` subcommands: the one-line error, reading bars through the quality
gate, the sampling options, the device. Subcommands import these; nothing here
imports a subcommand."""
from __future__ import annotations

import argparse

EXIT_BAD_INPUT = 2
EXIT_LOCKED = 3  # kronos retrain: another run holds the series' lock (a cron job may simply try later)
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C


class CliError(Exception):
    """A problem the user can fix; printed as one line."""


def quantile_levels(text: str) -> list[float]:
    try:
        levels = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--quantiles must be comma-separated numbers like 0.1,0.5,0.9, got '{text}'") from None
    if not levels or any(not 0 < q < 1 for q in levels):
        raise argparse.ArgumentTypeError(f"--quantiles must lie strictly between 0 and 1, got '{text}'")
    return levels


def read_bars(path: str, timezone: str | None = None, calendar: str | None = None, symbol: str | None = None):
    """A bars file through ``data_sources``' reader, whose errors name the problem and the fix."""
    from kronos_studio.bars_input import BarsInputError
    from kronos_studio.bars_input import read_bars as read

    try:
        return read(path, timezone=timezone, calendar=calendar, symbol=symbol)
    except BarsInputError as e:
        raise CliError(str(e)) from None


def quality_gate(bars, fixes: list[str]):
    """``kronos_studio.bars_input.quality_gate``: (gated bars, note and warning lines), a block as a CliError."""
    from kronos_studio.bars_input import BarsInputError
    from kronos_studio.bars_input import quality_gate as gate

    try:
        return gate(bars, fixes)
    except BarsInputError as e:
        raise CliError(str(e)) from None


def positive(kind):
    def parse(text):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
        if v <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return v
    return parse


def add_sampling_options(p: argparse.ArgumentParser, lookback_help: str) -> None:
    """The sampling options every forecasting command shares, their defaults read from the one
    ``kronos.settings.ForecastSettings``: --horizon, --paths, --seed, --temperature, --top-p, --top-k,
    --lookback, --no-anchor."""
    from kronos.settings import default

    g = p.add_argument_group("sampling")
    # Numbers are checked by ForecastSettings itself: one rule and one message for every caller.
    g.add_argument("--horizon", type=int, required=True, help="bars to forecast")
    g.add_argument("--paths", type=int, default=default("paths"),
                   help=f"sample paths (default {default('paths')})")
    g.add_argument("--seed", type=int, default=default("seed"), help="random seed: same seed, same paths")
    g.add_argument("--temperature", type=float, default=default("temperature"),
                   help=f"sampling temperature, 0 = greedy (default {default('temperature')})")
    g.add_argument("--top-p", type=float, default=default("top_p"), help=f"nucleus share (default {default('top_p')})")
    g.add_argument("--top-k", type=int, default=default("top_k"), help="keep the k likeliest tokens (0 = off)")
    g.add_argument("--lookback", type=int, default=default("lookback"), help=lookback_help)
    g.add_argument("--no-anchor", action="store_true",
                   help="do not move Kronos paths to start from the actual last close (the official output exactly: "
                        "the fan then starts from the tokenizer's reconstruction of the last bar)")


def sampling_settings(args):
    """The ``ForecastSettings`` the sampling options ask for (one line naming a bad value otherwise)."""
    from kronos.settings import ForecastSettings

    try:
        return ForecastSettings(horizon=args.horizon, paths=args.paths, seed=args.seed, temperature=args.temperature,
                                top_p=args.top_p, top_k=args.top_k, lookback=args.lookback, anchor=not args.no_anchor)
    except ValueError as e:
        raise CliError(str(e)) from None


def error_line(e: Exception):
    return CliError(str(e).splitlines()[0] if str(e) else type(e).__name__)


def cli_device(args):
    from kronos.device import resolve_device

    try:
        return resolve_device(args.device)
    except ValueError as e:
        raise error_line(e) from None
