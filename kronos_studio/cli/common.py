"""Helpers shared by the ``kronos`` subcommands: the one-line error, reading bars through the quality
gate, the sampling options, the device. Subcommands import these; nothing here
imports a subcommand."""
from __future__ import annotations

import argparse

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


def read_bars(path: str, timezone: str | None = None, calendar: str | None = None, symbol: str | None = None,
              exchange: str | None = None):
    """A bars file through ``data_sources``' reader, whose errors name the problem and the fix."""
    from kronos_studio.bars_input import read_bars as read

    return read(path, timezone=timezone, calendar=calendar, symbol=symbol, exchange=exchange)


def quality_gate(bars, fixes: list[str] | tuple[str, ...] = ()):
    """``kronos_studio.bars_input.quality_gate``: (gated bars, note and warning lines worded with flags)."""
    from kronos_studio.bars_input import quality_gate as gate

    from .errors import notice_line

    bars, notices = gate(bars, fixes)
    return bars, [notice_line(n) for n in notices]


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
    """How a command reads its bars file and computes, one spelling and help for every command that does:
    ``--timezone``, ``--calendar``, ``--symbol`` and ``--exchange`` (unless ``symbol`` is False), ``--fix`` (a
    ``data_sources.requests.BarsRequest``'s fields for a file), ``--device`` and ``--threads``."""
    p.add_argument("--timezone", default=None,
                   help="IANA timezone of times without a UTC offset, e.g. America/New_York (default: UTC, warned)")
    p.add_argument("--calendar", default=None,
                   help="trading calendar for gaps and future bar times: XNYS, XLON, ..., 24/7, FX (default: inferred)")
    if symbol:
        add_series_name_options(p)
    p.add_argument("--fix", action="append", default=[], metavar="FIX",
                   help="accept a fix the data-quality gate offers (e.g. adjust_splits, sort); repeatable")
    p.add_argument("--device", choices=["cpu", "cuda", "mps"], default=None)
    add_threads_option(p)


def add_series_name_options(p) -> None:
    """``--symbol`` and ``--exchange``: what names a file's series (the ledger, the registry and the Screener keep
    it under that name), one spelling for every command that reads one."""
    p.add_argument("--symbol", default=None, metavar="NAME",
                   help="the series' name, the same for every download of it (default: the file's symbol column, "
                        "else its file name without a date that ends it, said in a note); in a file with a "
                        "symbol/ticker column, the instrument to read")
    p.add_argument("--exchange", default=None, metavar="NAME",
                   help="the exchange (venue) the bars come from, when known: part of the series' name, so two "
                        "exchanges' bars of one symbol are two series (default: the file's exchange column, else "
                        "none)")


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
    from kronos_studio.evaluation.training_period import INCLUDE_TRAINING_PERIOD

    from .errors import flag

    p.add_argument(flag(INCLUDE_TRAINING_PERIOD, True), dest=INCLUDE_TRAINING_PERIOD, action="store_true",
                   help=f"also score {what} inside the model's training period (left out by default: such scores "
                        "measure memory, not forecasting); the output says how many there are either way")
    if old_spelling:
        p.add_argument(old_spelling, dest=INCLUDE_TRAINING_PERIOD, action="store_true", help=argparse.SUPPRESS)


METAVARS = {"covariates": "FILE_OR_SYMBOL", "known_future": "KIND", "model": "MODEL"}  # a repeated option's value, in words


def add_covariate_options(p) -> None:
    """``--with FILE_OR_SYMBOL`` and the other covariate options, one per ``Knob`` of ``CovariateOptions``."""
    from kronos_studio.covariates.options import CovariateOptions

    add_knob_options(p.add_argument_group("conditioning (Chronos-2: --model chronos2-small)"), CovariateOptions)


def covariate_options(args):
    """The ``CovariateOptions`` the options ask for, None when they name nothing (an unconditioned forecast)."""
    from kronos.settings import knob_values
    from kronos_studio.covariates.options import CovariateOptions

    options = CovariateOptions(**knob_values(args, CovariateOptions))
    return options if options else None


def add_knob_options(g, cls=None, only: tuple[str, ...] | None = None) -> None:
    """One option per field with a ``Knob`` of the options dataclass ``cls`` (None: the sampling knobs of
    ``kronos.settings.ForecastSettings``; ``only``: those of these fields alone), named by ``knob_flag`` from the
    knob's setting, its default read from there; ``kronos.settings.knob_values(args, cls)`` reads them back."""
    from kronos.settings import knobs

    from .errors import FLAGS, knob_flag

    for name, (value, knob) in knobs(cls).items():
        if only is not None and name not in only:
            continue
        setting = knob.name(name)
        flag = FLAGS.get(setting) or knob_flag(setting, value)
        if isinstance(value, tuple) and value:  # a list with a default: the option repeated, once per item; not
            # given, None (the use case's reader leaves it to the default: argparse would append to a default list)
            g.add_argument(flag, dest=setting, action="append", default=None, type=type(value[0]),
                           metavar=METAVARS.get(setting, "VALUE"),
                           help=f"{knob.label.lower()}: {knob.help} (repeatable; default {' and '.join(map(str, value))})")
        elif isinstance(value, tuple):  # a list: the option repeated, once per item
            g.add_argument(flag, dest=setting, action="append", default=[], metavar=METAVARS.get(setting, "VALUE"),
                           help=f"{knob.label.lower()}: {knob.help} (repeatable)")
        elif isinstance(value, bool) and value:  # on by default: the option turns it off; the knob's help says
            # what it does on, so the help says it is what this option stops
            g.add_argument(flag, dest=setting, action="store_false",
                           help=f"turn off '{knob.label}' (on by default; when on: {knob.help})")
        elif isinstance(value, bool):  # off by default: the option turns it on
            g.add_argument(flag, dest=setting, action="store_true", help=f"turn on '{knob.label}': {knob.help}")
        elif value is None:  # none by default (a filter not applied, a setting's own default): a value when given
            g.add_argument(flag, dest=setting, type=given_type(cls, name), default=None, metavar=setting.upper(),
                           help=f"{knob.label.lower()}: {knob.help}")
        else:
            g.add_argument(flag, dest=setting, type=type(value), default=value,
                           help=f"{knob.label.lower()}: {knob.help} (default {value})")


def given_type(cls, name: str):
    """The type of a value of field ``name`` of ``cls`` that defaults to None (``int | None``: int)."""
    import typing

    hint = typing.get_type_hints(cls)[name]
    return next((t for t in typing.get_args(hint) if t is not type(None)), hint)


def sampling_settings(args):
    """The ``ForecastSettings`` the sampling options ask for (one line naming a bad value otherwise)."""
    from kronos.settings import ForecastSettings, knob_values

    try:
        return ForecastSettings(horizon=args.horizon, paths=args.paths, seed=args.seed, lookback=args.lookback,
                                **knob_values(args))
    except ValueError as e:
        raise error_line(e) from None


def error_line(e: Exception) -> CliError:
    """The one re-wording of an exception the command line answers as bad input: its first line, a library
    error's settings named as flags."""
    from .errors import cli_line

    return CliError(cli_line(e))


def cli_device(args):
    from kronos.device import resolve_device

    try:
        return resolve_device(args.device)
    except ValueError as e:
        raise error_line(e) from None
