"""``kronos risk``: value-at-risk, expected shortfall, the volatility forecast and the stylized-facts check of a
forecast of a file's bars (``Desk.risk``; without ``--model``, served by the series' risk champion or the default
risk model, named with why); with ``--backtest``, the walk-forward risk backtest of the model beside the risk desk's
standard models (``Desk.risk_backtest``); with ``--choose-champion``, the series' risk champion chosen through the
gate and kept in the ledger (``Desk.risk_champion``). The desk's worded tables (``desk.risk_tables``) on stdout, the
JSON with ``--json``."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from kronos.settings import knobs
from kronos_studio.desk import (
    DEFAULT_RISK_MODEL,
    STANDARD_MODELS,
    ModelChoice,
    RiskBacktestPlan,
    RiskBacktestRequest,
    RiskChampionRequest,
    RiskRequest,
    RiskSettings,
)
from kronos_studio.desk.risk import SAMPLED_CANDIDATES, backtest_body, champion_body, risk_body, risk_paths
from kronos_studio.desk.risk_tables import backtest_said, backtest_tables, champion_tables, risk_tables

from .bars_process import GatedBars
from .commands import add_command
from .common import (
    DEFAULT_LOOKBACK_WORDS,
    add_bars_file_options,
    add_knob_options,
    add_sampling_options,
    add_training_period_switch,
    options_of,
    sampling_settings,
)
from .errors import notice_line
from .models import add_context_option, add_model_option, cli_desk, desk_call, model_choice
from .tables import printed

RISK_PATHS_HELP = ("sample paths (of the model asked, at every cut-off with --backtest); default: enough for the highest "
                   "level's ES, 20 beyond its VaR: 2,000 for 0.99")


def register(sub) -> None:
    p = add_command(sub, "risk", description="VaR and ES of a long and a short position, the volatility forecast "
                                             "and the stylized-facts check of a forecast's paths; with --backtest, "
                                             "their walk-forward backtest (Kupiec, Christoffersen, Basel traffic "
                                             "light, Acerbi–Szekely, QLIKE/MSE, Mincer–Zarnowitz, Diebold–Mariano).")
    p.add_argument("file", help="CSV or Parquet bars")
    add_model_option(p, default=f"the series' risk champion, else the default risk model ({DEFAULT_RISK_MODEL.label}), "
                                "named with why it serves")
    add_context_option(p)
    add_sampling_options(p, f"history bars the model reads (default: {DEFAULT_LOOKBACK_WORDS})", RISK_PATHS_HELP)
    add_knob_options(p.add_argument_group("risk"), RiskSettings)
    b = p.add_argument_group("backtest")
    b.add_argument("--backtest", action="store_true",
                   help="backtest the VaR, ES and variance forecasts on the latest --cutoffs cut-offs, one horizon "
                        f"apart, beside {STANDARD_MODELS}")
    add_knob_options(b, RiskBacktestPlan, ("cutoffs",))  # --choose-champion's too
    add_backtest_options(b)
    add_training_period_switch(b, "cut-offs (with --backtest or --choose-champion) whose forecast starts")
    c = p.add_argument_group("risk champion")
    c.add_argument("--choose-champion", action="store_true",
                   help="choose the series' risk champion: the standard risk models and --candidates, each also "
                        "recalibrated, backtested on the latest --cutoffs cut-offs one horizon apart; the best by FZ0 "
                        "replaces the one serving only when the gate's 95%% interval says so; kept in the ledger "
                        "($KRONOS_STUDIO_DB)")
    c.add_argument("--candidates", choices=("all", "standard"), default="all",
                   help="with --choose-champion: beside the standard risk models, the bundled Kronos and the ensemble "
                        "(all, the default), or the standard ones alone")
    c.add_argument("--warmup", type=int, default=None, metavar="N",
                   help="with --choose-champion: earlier cut-offs seeding the recalibrated candidates (default 250)")
    c.add_argument("--workspace", default=None, help="with --choose-champion and without --model: the ledger "
                                                    "workspace whose risk champion serves (default: default)")
    p.add_argument("--json", default=None, metavar="OUT", help="JSON file to write (the numbers the table shows, "
                                                               "and more: per step, per cut-off)")
    add_bars_file_options(p)
    add_knob_options(p, ModelChoice, ("meta",))
    p.set_defaults(func=run_risk)


def add_backtest_options(group) -> None:
    """The risk backtest's own options, one per ``RiskBacktestPlan`` knob, for ``kronos risk --backtest`` and
    ``kronos evaluate --risk`` (whose cut-offs and training-period switch each command offers as its own: both
    read them)."""
    add_knob_options(group, RiskBacktestPlan, tuple(n for n in knobs(RiskBacktestPlan) if n not in SHARED_OPTIONS))


# the plan's options a command offers as its own: the cut-offs (kronos risk's --choose-champion reads them too,
# kronos evaluate's walk-forward has its own) and the training-period switch (every training-period guard's)
SHARED_OPTIONS = ("cutoffs", "include_trained")


def backtest_request(bars, args, settings, risk):
    """The ``RiskBacktestRequest`` the options ask for."""
    return RiskBacktestRequest(bars, None if args.model is None else model_choice(args), settings, risk,
                               options_of(RiskBacktestPlan, args))


def backtest(desk, bars, args, settings, risk):
    """``Desk.risk_backtest`` as the options ask: (the result, its JSON body, its table)."""
    done = desk_call(lambda: desk.risk_backtest(backtest_request(bars, args, settings, risk)))
    return done, backtest_body(done), printed(backtest_tables(done), backtest_said(done))


def risk_sampling(args, risk):
    """The ``ForecastSettings`` of a risk request: --paths as given, or (not given) enough for the highest level's
    ES (``desk.risk.risk_paths``, every face's default)."""
    args.paths = risk_paths(risk, args.paths)
    return sampling_settings(args)


def risk_settings(args):
    """The ``RiskSettings`` the risk options ask for (one line naming a bad value otherwise)."""
    return options_of(RiskSettings, args)


def run_risk(args) -> int:
    risk = risk_settings(args)
    settings = risk_sampling(args, risk)
    # The bars are read in a second process while this one imports torch and the model code (as kronos forecast).
    with GatedBars(args.file, args.timezone, args.calendar, args.symbol, args.fix,
                   horizon=None if args.backtest else settings.horizon, exchange=args.exchange) as gated:
        bars, warnings = gated.result("scipy.stats", "arch")  # the risk readings' libraries, imported meanwhile
    desk, _ = cli_desk(args)
    if args.choose_champion:
        done, body, table = choose_champion(desk, bars, args, settings, risk)
    elif args.backtest:
        done, body, table = backtest(desk, bars, args, settings, risk)
    else:
        asked = RiskRequest(bars, None if args.model is None else model_choice(args), settings, risk, args.workspace,
                            gated.future)
        done = desk_call(lambda: desk.risk(asked))
        body, table = risk_body(done), printed(risk_tables(done), after=[
            "Stylized facts, paths against history:", *(f"  {line}" for line in done.reading.verdict)])
    return answer(done, body, table, warnings, args.json)


def choose_champion(desk, bars, args, settings, risk):
    """``Desk.risk_champion`` as the options ask: (the result, its JSON body, its table)."""
    asked = RiskChampionRequest(bars, settings, risk, args.cutoffs, args.warmup,
                                SAMPLED_CANDIDATES if args.candidates == "all" else (), args.include_training_period,
                                args.workspace, "kronos risk --choose-champion")
    done = desk_call(lambda: desk.risk_champion(asked))
    body = champion_body(done)
    return done, body, printed(champion_tables(body))


def answer(done, body: dict, table: str, warnings: list[str], out: str | None) -> int:
    """The warnings and notices on stderr, the table on stdout, the JSON body (with its warnings) in ``out``."""
    for line in warnings + [notice_line(n) for n in done.notices]:
        print(line, file=sys.stderr)
    print(table)
    if out:
        body["warnings"] = [notice_line(n) for n in done.notices]
        Path(out).write_text(json.dumps(body, indent=2))
        print(f"wrote {out}", file=sys.stderr)
    return 0
