"""``kronos risk``: value-at-risk, expected shortfall, the volatility forecast and the stylized-facts check of a
forecast of a file's bars (``Desk.risk``; without ``--model``, served by the series' risk champion or the default
risk model, named with why); with ``--backtest``, the walk-forward risk backtest of the model beside the risk desk's
standard models (``Desk.risk_backtest``); with ``--choose-champion``, the series' risk champion chosen through the
gate and kept in the ledger (``Desk.risk_champion``). A table on stdout, the JSON with ``--json``."""
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
    return done, backtest_body(done), backtest_table(done)


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
        body, table = risk_body(done), risk_table(done)
    return answer(done, body, table, warnings, args.json)


def choose_champion(desk, bars, args, settings, risk):
    """``Desk.risk_champion`` as the options ask: (the result, its JSON body, its table)."""
    asked = RiskChampionRequest(bars, settings, risk, args.cutoffs, args.warmup,
                                SAMPLED_CANDIDATES if args.candidates == "all" else (), args.include_training_period,
                                args.workspace, "kronos risk --choose-champion")
    done = desk_call(lambda: desk.risk_champion(asked))
    body = champion_body(done)
    return done, body, champion_table(body)


def champion_table(body: dict) -> str:
    """The decision in words, then each candidate's mean FZ0 and QLIKE, exceptions and verdict."""
    lines = [f"risk champion: {body['decision']} ({body['challenger']} against {body['champion']}); serving: "
             f"{body['serving']}", f"  {body['reason']}", "",
             f"{body['cutoffs']} cut-offs, {body['horizon']}-bar horizon; FZ0 of VaR and ES (mean over positions and "
             "levels; lower is better), QLIKE of the variance:",
             f"{'candidate':<40}{'FZ0':>9}{'QLIKE':>8}{'verdict':>10}  exceptions"]
    for key, c in sorted(body["candidates"].items(), key=lambda kv: (kv[1]["fz0"] is None, kv[1]["fz0"])):
        exc = " ".join(f"{k.removeprefix('exceptions_')} {v}" for k, v in c.items() if k.startswith("exceptions_"))
        lines.append(f"{key:<40}{_num(c['fz0'], '.4f'):>9}{_num(c['qlike']):>8}{c['verdict']:>10}  {exc}")
    return "\n".join(lines)


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


def _pct(x) -> str:
    return "–" if x is None or x != x else f"{x:.2%}"


def _text(x) -> str:
    return x if isinstance(x, str) else "–"


def _num(x, spec=".3f") -> str:
    return "–" if x is None or x != x else format(x, spec)


def served_table(served) -> list[str]:
    """The risk model serving the series: which, why, what it has learnt, and its VaR and ES."""
    learnt = served.learnt
    lines = [f"served by {served.model.describe(served.name)}", f"  {served.why}"]
    if served.model.recalibration is not None:
        lines.append(f"  learnt from {learnt.get('outcomes', 0)} outcomes"
                     + (f" (to {learnt['through']})" if learnt.get("through") else "")
                     + f"; variance scale {learnt.get('variance_scale', 1.0):.3f}")
    lines += ["", f"{'position':<9}{'level':>7}{'VaR':>10}{'ES':>10}{'read at':>10}"]
    for t in served.readings:
        lines.append(f"{t['position']:<9}{t['level']:>7g}{_pct(t['var']):>10}{_pct(t['es']):>10}"
                     f"{1 - t['tail_probability']:>10.4g}")
    return lines + [""]


def bar_time(t) -> str:
    """A bar's time with its weekday and zone (a horizon over a weekend or a holiday shows it): 'Mon 2027-01-04
    19:00 UTC'."""
    return f"{t:%a %Y-%m-%d %H:%M %Z}".strip()


def risk_table(done) -> str:
    """The served VaR/ES (no model asked: the risk champion or default), then VaR/ES of the paths at the horizon (with
    their Monte-Carlo errors), the volatility forecast, the stylized-facts verdict."""
    r, s = done.reading, done.settings
    lines = [] if done.served is None else served_table(done.served)
    lines += [f"{done.forecast.provenance.get('model')}: {s.horizon}-bar horizon ending {bar_time(r.horizon_end)} (its "
              f"last bar), {r.path.paths} paths, last close {r.path.last_close:g}"
              + ("" if done.served is None else " (the paths of the serving model)"), "",
              f"{'position':<9}{'level':>7}{'VaR':>10}{'± se':>9}{'ES':>10}{'± se':>9}{'tail paths':>12}"]
    for t in r.path.horizon:
        lines.append(f"{t.position:<9}{t.level:>7g}{_pct(t.var):>10}{_pct(t.var_se):>9}{_pct(t.es):>10}"
                     f"{_pct(t.es_se):>9}{t.tail_paths:>12g}")
    lines += ["", f"volatility of a bar's log-return ({r.volatility.interval:.0%} interval across paths):",
              f"{'method':<16}{'source':<9}{'per bar':>9}{'horizon':>9}{'interval':>20}"]
    for v in r.volatility.readings:
        band = f"{_pct(v.low)} to {_pct(v.high)}" if v.low is not None else ""
        lines.append(f"{v.method:<16}{v.source:<9}{_pct(v.per_bar):>9}{_pct(v.horizon):>9}{band:>20}")
    lines += ["", "stylized facts, paths against history:"] + [f"  {line}" for line in r.verdict]
    return "\n".join(lines)


def _read_from(row) -> str:
    """Where a model's VaR/ES come from: its own distribution, or its paths a cut-off (marked when too few for the
    level's ES: said in the warnings)."""
    paths = row.get("paths")
    if paths is None or paths != paths:
        return "own dist."
    return f"{int(paths)} paths" + ("" if row.get("enough_paths") else "!")


def backtest_table(done) -> str:
    """Per level and position, each model's exceptions, test p-values, zone and verdict; then the joint VaR/ES loss
    (FZ0) and the volatility losses. Each row is named by its model's name (the asked model's too, not its key)."""
    bt = done.backtest
    names = {key: m.name for key, m in bt.models.items()}
    width = max(32, *(len(n) + 2 for n in names.values()))
    lines = [f"risk backtest: {len(bt.cutoffs)} cut-offs, {bt.horizon}-bar horizon, variance proxy {bt.walk.proxy}"
             + (f"; serving this series: {names.get(done.served_key, done.served_key)}" if done.served_key else "")]
    for position in bt.settings.positions:
        for level in bt.settings.levels:
            summary = bt.summary(level, position)
            lines += ["", f"{position} {level:g}:",
                      f"{'model':<{width}}{'exc.':>6}{'obs.':>6}{'Kupiec p':>10}{'Chr. ind p':>11}{'Chr. CC p':>10}"
                      f"{'DQ p':>7}{'zone':>8}{'ES Z2 p':>9}{'read from':>12}"]
            for key, row in summary.iterrows():
                exc = "–" if row["exceptions"] is None or row["exceptions"] != row["exceptions"] else int(row["exceptions"])
                obs = "–" if row["observations"] is None or row["observations"] != row["observations"] else int(row["observations"])
                lines.append(f"{names.get(key, key):<{width}}{exc:>6}{obs:>6}{_num(row['kupiec_p']):>10}"
                             f"{_num(row['christoffersen_ind_p']):>11}{_num(row['christoffersen_cc_p']):>10}"
                             f"{_num(row['dq_p']):>7}{_text(row['zone']):>8}{_num(row['es_z2_p']):>9}{_read_from(row):>12}")
    lines += ["", "one verdict per model (every test above, Holm-adjusted together at 5%):"]
    for key, v in bt.verdicts.items():
        lines.append(f"  {names.get(key, key):<{width - 2}}{v['verdict']:>9}" + (f"  ({'; '.join(v['against'] + v['flagged'])})"
                                                                     if v["against"] or v["flagged"] else ""))
    fz = bt.fz0
    if len(fz):
        lines += ["", f"FZ0 loss of VaR and ES jointly (mean over positions and levels; lower is better); DM against "
                      f"{names.get(bt.walk.reference, bt.walk.reference)}:",
                  f"{'model':<{width}}{'FZ0':>9}{'DM':>7}{'DM p':>7}{'MCS p':>7}"]
        for key, row in fz.iterrows():
            lines.append(f"{names.get(key, key):<{width}}{_num(row.get('fz0'), '.4f'):>9}"
                         f"{_num(row.get('dm_fz0_vs_reference'), '+.2f'):>7}{_num(row.get('dm_fz0_p')):>7}"
                         f"{_num(row.get('mcs_fz0_p')):>7}")
    vol = bt.volatility
    reference = names.get(bt.walk.reference, bt.walk.reference)
    lines += ["", f"variance forecasts against the realized ({bt.walk.proxy}); DM: QLIKE against {reference}:",
              f"{'model':<{width}}{'QLIKE':>8}{'MSE':>11}{'MZ slope':>10}{'MZ p':>7}{'DM':>7}{'DM p':>7}"]
    for key, row in vol.iterrows():
        lines.append(f"{names.get(key, key):<{width}}{_num(row.get('qlike')):>8}{_num(row.get('mse'), '.2e'):>11}"
                     f"{_num(row.get('mz_slope')):>10}{_num(row.get('mz_joint_p')):>7}"
                     f"{_num(row.get('dm_qlike_vs_reference'), '+.2f'):>7}{_num(row.get('dm_p')):>7}")
    return "\n".join(lines)
