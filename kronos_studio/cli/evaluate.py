"""``kronos evaluate``: walk-forward of a model and every naive baseline on the latest cut-offs of a
file, as JSON (CRPS, MAE, coverage, CRPS skill against the random walk with its 95% interval, and the
conformal calibration's held-out check)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from kronos.quantiles import BAND_NAME
from kronos.settings import default, knob_values
from kronos_studio.desk import EvaluateRequest, ModelChoice, RiskSettings, TrustPlan

from .commands import add_command
from .common import (
    DEFAULT_LOOKBACK_WORDS,
    CliError,
    add_bars_file_options,
    add_covariate_options,
    add_knob_options,
    add_sampling_options,
    covariate_options,
    quality_gate,
    read_bars,
    sampling_settings,
)
from .errors import notice_line
from .models import (
    add_context_option,
    add_model_option,
    cli_desk,
    context_note,
    desk_call,
    model_choice,
)
from .risk import add_backtest_options


def register(sub) -> None:
    p = add_command(sub, "evaluate",
                    description="Score a model against the naive baselines on the latest cut-offs.")
    p.add_argument("file", help="CSV or Parquet bars")
    add_model_option(p)
    add_context_option(p)

    add_knob_options(p.add_argument_group("walk-forward"), TrustPlan)  # with --risk, its cut-offs and switch too

    add_sampling_options(p, f"bars of history per cut-off (default: {DEFAULT_LOOKBACK_WORDS})",
                         f"sample paths (default {default('paths')}; with --risk, enough for the highest level's ES, "
                         "as kronos risk's: 2,000 for 0.99)")
    p.add_argument("--json", required=True, metavar="OUT", help="JSON file to write")
    add_bars_file_options(p)
    add_covariate_options(p)
    add_knob_options(p, ModelChoice, ("meta",))

    r = p.add_argument_group("risk", "with --risk: the risk backtest of the cut-offs instead (as kronos risk "
                                     "--backtest: VaR, ES and variance forecasts against what happened)")
    r.add_argument("--risk", action="store_true", help="backtest VaR, ES and the variance forecast on the cut-offs "
                                                        "instead: the table on stdout, its JSON in --json")
    add_knob_options(r, RiskSettings)
    add_backtest_options(r)
    p.set_defaults(func=run_evaluate)


def run_evaluate(args) -> int:
    if args.risk and covariate_options(args) is not None:
        raise CliError("the risk backtest reads no covariates: leave out --with and --known-future, or --risk")
    bars, warnings = quality_gate(read_bars(args.file, args.timezone, args.calendar, args.symbol, args.exchange), args.fix)
    desk, loaded = cli_desk(args)
    if args.risk:
        from .risk import answer, backtest, risk_sampling, risk_settings

        risk = risk_settings(args)
        return answer(*backtest(desk, bars, args, risk_sampling(args, risk), risk), warnings, args.json)
    if args.paths is None:
        from kronos.settings import default

        args.paths = default("paths")

    plan = desk_call(lambda: TrustPlan(**knob_values(args, TrustPlan)))
    asked = EvaluateRequest(bars, model_choice(args), sampling_settings(args), plan,
                            covariates=covariate_options(args), file=str(Path(args.file).resolve()))
    done = desk_call(lambda: desk.evaluate(asked))
    made, pair = done.report, loaded[0] if loaded else None
    out = made.out
    Path(args.json).write_text(json.dumps(out, indent=2, default=str))
    for line in warnings + [notice_line(n) for n in done.notices]:
        print(line, file=sys.stderr)
    m = out["models"]["model"]
    best = m.get("vs_best_member")
    vs_best = "" if best is None else (f", vs its best member {best['member'].removeprefix('member_')} "
                                       f"{best['crps_skill']:+.3f} (95% CI {best['ci95'][0]:+.3f} to "
                                       f"{best['ci95'][1]:+.3f})")
    print(f"wrote {args.json}: {made.cutoffs} cut-offs{context_note(pair)}, CRPS skill vs "
          f"random walk {m['crps_skill_vs_random_walk']:+.3f} (95% CI {m['crps_skill_ci95'][0]:+.3f} to "
          f"{m['crps_skill_ci95'][1]:+.3f}), {BAND_NAME} coverage {m['coverage_p10_p90']:.2f}{vs_best}",
          file=sys.stderr)
    return 0
