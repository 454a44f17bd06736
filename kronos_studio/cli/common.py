"""Helpers shared by the ``kronos`` subcommands: the one-line error, reading bars through the quality
gate, the sampling options, the device. Subcommands import these; nothing here
imports a subcommand."""
from __future__ import annotations

import argparse
import functools

from .errors import FLAGS, cli_line, flag, knob_flag, notice_line

EXIT_BAD_INPUT = 2
EXIT_LOCKED = 3  # kronos retrain: another run holds the series' lock (a cron job may simply try later)
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C


class CliError(Exception):
    """A problem the user can fix, found by the command line itself; printed as one line. The library's
    (``kronos.errors.UserError``) reach ``main`` as they are and are worded there, with flags."""


def quantile_levels(text: str) -> list[float]:
    try:
        levels = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--quantiles must be comma-separated numbers like 0.1,0.5,0.9, got '{text}'") from None
    if not levels or any(not 0 < q < 1 for q in levels):
        raise argparse.ArgumentTypeError(f"--quantiles must lie strictly between 0 and 1, got '{text}'")
    return levels


@functools.lru_cache(maxsize=1)
def process_desk():
    """This process's desk, the only one the command line builds: the process's shared model registry (a
    ``Desk``'s default) and no result cache (a one-shot command keeps no results)."""
    from kronos_studio.desk import Desk

    return Desk()


def read_bars(path: str, timezone: str | None = None, calendar: str | None = None, symbol: str | None = None,
              exchange: str | None = None):
    """A bars file read as the desk reads one (``Desk.read``), whose errors name the problem and the fix."""
    from data_sources.requests import BarsRequest

    return process_desk().read(BarsRequest(file=path, timezone=timezone, calendar=calendar, symbol=symbol, exchange=exchange))


def quality_gate(bars, fixes: list[str] | tuple[str, ...] = ()):
    """``Desk.gate``: (gated bars, note and warning lines worded with flags)."""
    from kronos_studio.desk import Desk

    gated = Desk.gate(bars, fixes)
    return gated.bars, [notice_line(n) for n in gated.notices]


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


def add_bars_file_options(p, symbol: bool = True) -> None:
    """How a command reads its bars file and computes, one spelling and help for every command that does: the
    ``data_sources.requests.BarsRequest`` fields of a file (``FILE_KNOBS``: ``--symbol``, ``--exchange`` unless
    ``symbol`` is False, ``--timezone``, ``--calendar``, ``--fix``), generated from their knobs, then ``--device`` and
    ``--threads``."""
    from data_sources.requests import FILE_KNOBS, BarsRequest

    add_knob_options(p, BarsRequest, tuple(k for k in FILE_KNOBS if symbol or k not in SERIES_NAME))
    p.add_argument("--device", choices=["cpu", "cuda", "mps"], default=None)
    add_threads_option(p)


SERIES_NAME = ("symbol", "exchange")  # what names a file's series (``add_series_name_options``)


def add_series_name_options(p) -> None:
    """``--symbol`` and ``--exchange``: what names a file's series (the ledger, the registry and the Screener keep
    it under that name), one spelling for every command that reads one (``BarsRequest``'s knobs)."""
    from data_sources.requests import BarsRequest

    add_knob_options(p, BarsRequest, SERIES_NAME)


def add_threads_option(p) -> None:
    """``--threads``, shared by the commands that compute: ``kronos.threads.configure`` (``main`` applies it)."""
    p.add_argument("--threads", type=positive(int), default=None, metavar="N",
                   help="CPU threads per computation (default: the cores this process may use, shared with the "
                        "other kronos computations running on this machine; also KRONOS_STUDIO_THREADS)")
# What --lookback is when not given: each model's own (``Forecaster.lookback``), which the output line explains.
DEFAULT_LOOKBACK_WORDS = ("the model's own: a Kronos model its context minus the horizon, at least half the context, "
                          "so the window never slides; a champion adapter the lookback it was gated with; all the bars "
                          "when fewer")


def add_sampling_options(p: argparse.ArgumentParser, lookback_help: str, paths_help: str | None = None) -> None:
    """The sampling options every forecasting command shares: --horizon, --paths, --seed, --lookback and
    one option per sampling knob of ``kronos.settings.ForecastSettings`` (its ``Knob``), defaults read
    from there. ``paths_help``: a command whose path count follows other options (``kronos risk``: the levels) says
    how; its --paths is None when not given."""
    from kronos.settings import default

    g = p.add_argument_group("sampling")
    # Numbers are checked by ForecastSettings itself: one rule and one message for every caller.
    g.add_argument("--horizon", type=int, required=True, help="bars to forecast")
    g.add_argument("--paths", type=int, default=default("paths") if paths_help is None else None,
                   help=paths_help or f"sample paths (default {default('paths')})")
    g.add_argument("--seed", type=int, default=default("seed"), help="random seed: same seed, same paths")
    g.add_argument("--lookback", type=int, default=default("lookback"), help=lookback_help)
    add_knob_options(g)


def add_training_period_switch(p, what: str, old_spelling: str | None = None) -> None:
    """The training-period switch, one name on every command that has it (``evaluate``, ``train lora``, ``batch
    --evaluate``, ``retrain``): its setting is ``training_period.INCLUDE_TRAINING_PERIOD``, its flag that
    setting's in ``errors.FLAGS``; ``what``: what it keeps. ``old_spelling``: an earlier public flag, still
    accepted and no longer listed."""
    from kronos_studio.desk import INCLUDE_TRAINING_PERIOD

    p.add_argument(flag(INCLUDE_TRAINING_PERIOD, True), dest=INCLUDE_TRAINING_PERIOD, action="store_true",
                   help=f"also score {what} inside the model's training period (left out by default: such scores "
                        "measure memory, not forecasting); the output says how many there are either way")
    if old_spelling:
        p.add_argument(old_spelling, dest=INCLUDE_TRAINING_PERIOD, action="store_true", help=argparse.SUPPRESS)


# an option's value, in words (a repeated option's: VALUE when not here)
METAVARS = {"covariates": "FILE_OR_SYMBOL", "known_future": "KIND", "fix": "FIX", "symbol": "NAME", "exchange": "NAME",
            "costs_bps": "BPS", "every": "K", "since": "DATE", "model": "MODEL", "replay": "NAME", "replay_from": "DATE", "to": "DATE", "replay_name": "NAME",
            "beside": "MODEL", "step": "N", "meta": "DIR", "chronos2": "auto|off|REF", "levels": "LEVEL",
            "positions": "POSITION", "time_limit": "SECONDS"}


def add_covariate_options(p) -> None:
    """``--with FILE_OR_SYMBOL`` and the other covariate options, one per ``Knob`` of ``CovariateOptions``."""
    from kronos_studio.desk import CovariateOptions

    add_knob_options(p.add_argument_group("conditioning (Chronos-2: --model chronos2-small)"), CovariateOptions)


def covariate_options(args):
    """The ``CovariateOptions`` the options ask for, None when they name nothing (an unconditioned forecast)."""
    from kronos.settings import knob_values
    from kronos_studio.desk import CovariateOptions

    options = CovariateOptions(**knob_values(args, CovariateOptions))
    return options if options else None


def add_knob_options(g, cls=None, only: tuple[str, ...] | None = None) -> None:
    """One option per field with a ``Knob`` of the options dataclass ``cls`` (None: the sampling knobs of
    ``kronos.settings.ForecastSettings``; ``only``: those of these fields alone, in this order), named by ``knob_flag``
    from the knob's setting, its default read from there (a default of None: the option's type is the field's,
    ``knob_kind``; a word among ``Bounds.choices``: one of them); ``kronos.settings.knob_values(args, cls)`` reads
    them back."""
    from kronos.settings import ForecastSettings, bounds, knob_kind, knobs

    cls = cls or ForecastSettings
    found, rules = knobs(cls), bounds(cls)
    for name in (only if only is not None else found):
        value, knob = found[name]
        setting = knob.name(name)
        label, text = (words.replace("%", "%%") for words in (knob.label, knob.help))  # argparse formats help
        flag = (FLAGS.get(setting) or knob_flag(setting, value)).split()[0]  # FLAGS may word it: '--meta DIR (...)'
        if isinstance(value, tuple) and value:  # a list with a default: the option repeated, once per item; not
            # given, None (the use case's reader leaves it to the default: argparse would append to a default list)
            g.add_argument(flag, dest=setting, action="append", default=None, type=type(value[0]),
                           metavar=METAVARS.get(setting, "VALUE"),
                           help=f"{label.lower()}: {text} (repeatable; default {' and '.join(map(str, value))})")
        elif isinstance(value, tuple):  # a list: the option repeated, once per item
            g.add_argument(flag, dest=setting, action="append", default=[], metavar=METAVARS.get(setting, "VALUE"),
                           help=f"{label.lower()}: {text} (repeatable)")
        elif isinstance(value, bool) and value:  # on by default: the option turns it off; the knob's help says
            # what it does on, so the help says it is what this option stops
            g.add_argument(flag, dest=setting, action="store_false",
                           help=f"turn off '{label}' (on by default; when on: {text})")
        elif isinstance(value, bool):  # off by default: the option turns it on
            g.add_argument(flag, dest=setting, action="store_true", help=f"turn on '{label}': {text}")
        else:
            choices = rules[name][1].choices if name in rules else None
            g.add_argument(flag, dest=setting, type=type(value) if value is not None else knob_kind(cls, name),
                           default=value, choices=choices, metavar=None if choices else METAVARS.get(setting),
                           help=f"{label.lower()}: {text}" + ("" if value is None else f" (default {value})"))


def sampling_settings(args):
    """The ``ForecastSettings`` the sampling options ask for (one line naming a bad value otherwise)."""
    from kronos.settings import ForecastSettings, knob_values

    try:
        return ForecastSettings(horizon=args.horizon, paths=args.paths, seed=args.seed, lookback=args.lookback,
                                **knob_values(args))
    except ValueError as e:
        raise error_line(e) from None


def options_of(cls, args, only: tuple[str, ...] | None = None, **fixed):
    """The options dataclass ``cls`` the options generated from its knobs ask for (``add_knob_options``; ``only``:
    those of these fields alone) with ``fixed``: ``kronos.settings.from_knobs`` (a list option not given: the
    setting's default); a value it refuses, one line naming the flag."""
    from kronos.settings import from_knobs

    try:
        return from_knobs(cls, args, only, **fixed)
    except ValueError as e:
        raise error_line(e) from None


def error_line(e: Exception) -> CliError:
    """The one re-wording of an exception the command line answers as bad input: its first line, a library
    error's settings named as flags."""
    return CliError(cli_line(e))


def cli_device(args):
    from kronos.device import resolve_device

    try:
        return resolve_device(args.device)
    except ValueError as e:
        raise error_line(e) from None
