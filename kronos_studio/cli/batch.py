"""``kronos batch``: forecast every series of a watchlist and write one screening row per series."""
from __future__ import annotations

import argparse
import sys

from kronos.settings import knob_values, knobs
from kronos_studio.desk import READING, RISK_KNOBS, BatchSettings, Engine, RiskSettings, ScreenRequest

from .batch_evaluate import add_evaluate_options, path_counts, run_evaluate, single_paths
from .commands import add_command
from .common import (
    CliError,
    add_covariate_options,
    add_knob_options,
    add_sampling_options,
    add_threads_option,
    cli_device,
    covariate_options,
    options_of,
    sampling_settings,
)
from .errors import notice_line
from .models import cli_desk, desk_call


def touch_levels(text: str) -> tuple[float, ...]:
    """``--touch-levels``: comma-separated returns (``BatchSettings`` says which it takes)."""
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--touch-levels must be comma-separated returns like -0.1,0.05, got '{text}'") from None


def register(sub) -> None:
    p = add_command(sub, "batch",
                    description="Forecast every series of a watchlist with one model and write one row per series: P(up), "
                    "expected return, close quantiles at the horizon, band width, expected max drawdown, touch "
                    "probabilities, VaR and ES of the horizon return (long and short, with their Monte-Carlo errors), "
                    "the paths' realized volatility, provenance. A rerun into the same --out skips series already done with the "
                    "same bars and settings.")
    p.add_argument("watchlist", help="a folder of CSV/Parquet bar files, or a CSV with columns "
                                     "source,symbol,interval[,exchange] (source: yfinance, ccxt, sample)")
    p.add_argument("--model", default=None, help="official name (mini, small, base), Hub repo id or local folder "
                                                 "(default: the bundled model)")
    add_sampling_options(p, "history bars every series is forecast from (default: the model's context minus the "
                            "horizon); shorter series get a 'short_history' row")
    touch, how = knobs(BatchSettings)["touch_levels"]  # its knob, written comma-separated here
    p.add_argument("--touch-levels", dest="touch_levels", type=touch_levels, default=touch, metavar="R1,R2",
                   help=f"{how.help} (comma-separated; default {','.join(map(str, touch))})")
    risk_columns = p.add_argument_group("risk columns (as kronos risk reads them, at the horizon)")
    add_knob_options(risk_columns, RiskSettings, only=RISK_KNOBS)
    add_knob_options(p, ScreenRequest, READING)  # how every series is read: --fix, --calendar
    output = p.add_argument_group("the rows (a screen)")
    add_knob_options(output, ScreenRequest, ("out", "steps_out", "chunk"))
    add_knob_options(p, Engine)  # --engine, --ray-address, --workers
    p.add_argument("--device", choices=["cpu", "cuda", "mps"], default=None)
    add_threads_option(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    evaluation = add_evaluate_options(p)

    add_covariate_options(p)
    p._option_string_actions["--paths"].type = path_counts  # several counts with --evaluate
    # Each mode's own options, with their defaults: one given to the other mode is refused, not silently unread.
    screen = [p._option_string_actions["--touch-levels"]] + output._group_actions + risk_columns._group_actions
    p.set_defaults(func=run_batch_command, screen_only=own_options(screen),
                   evaluate_only=own_options(a for a in evaluation._group_actions if a.dest != "evaluate"))


def own_options(actions) -> dict[str, tuple[str, object]]:
    """dest -> (the option's public flag, its default) of argparse ``actions``."""
    return {a.dest: (a.option_strings[0], a.default) for a in actions if a.help != argparse.SUPPRESS}


def unread(args, own: dict[str, tuple[str, object]]) -> list[str]:
    """The flags of ``own`` options given (set away from their default)."""
    return [flag for dest, (flag, default) in own.items() if getattr(args, dest) != default]


def run_batch_command(args) -> int:
    if isinstance(args.paths, int):
        args.paths = (args.paths,)  # the default, not parsed
    covariates = covariate_options(args)
    given = unread(args, args.screen_only if args.evaluate else args.evaluate_only)
    if given:
        one, them = len(given) == 1, "it" if len(given) == 1 else "them"
        if args.evaluate:
            raise CliError(f"{', '.join(given)} {'is a screen option' if one else 'are screen options'}: --evaluate "
                           f"scores the ranking and writes no rows; drop {them}, or run without --evaluate")
        raise CliError(f"{', '.join(given)} {'is an --evaluate option' if one else 'are --evaluate options'}: a screen "
                       f"does not read {them}; add --evaluate, or drop {them}")
    if args.evaluate:
        if covariates is not None:
            raise CliError("--with and --known-future condition a screen's forecasts; --evaluate ranks without them "
                           "(evaluate one series with covariates: kronos evaluate FILE --model chronos2-small --with ...)")
        return run_evaluate(args)
    single_paths(args)
    if args.out is None:
        raise CliError("--out is required (a .parquet file for the rows), unless --evaluate")
    if not str(args.out).endswith((".parquet", ".pq")):
        raise CliError(f"--out must be a .parquet file, got '{args.out}'")
    desk, _ = cli_desk(args)
    settings = BatchSettings(sampling_settings(args), touch_levels=args.touch_levels, risk=options_of(RiskSettings, args, RISK_KNOBS, per_step=False))
    request = ScreenRequest(desk.watchlist(args.watchlist), settings, model=args.model, covariates=covariates,
                            engine=Engine(**knob_values(args, Engine)), device=cli_device(args),
                            **knob_values(args, ScreenRequest))
    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=len(request.entries), desc="forecasting", unit="series", file=sys.stderr, leave=False)

    def progress(done, todo, rate):
        bar.total = todo
        bar.n = done
        bar.set_postfix_str(f"{rate:.1f} series/s", refresh=True)

    try:
        done = desk_call(lambda: desk.screen(request, progress=progress if bar is not None else None))
    finally:
        if bar is not None:
            bar.close()
    for notice in done.notices:
        print(notice_line(notice), file=sys.stderr)
    if done.conditioned:
        print(f"note: {done.conditioned} (each row's covariate_notes: its own alignment)", file=sys.stderr)
    rate = f", {done.series_per_minute:.0f} series/min" if done.forecast else ""
    print(f"wrote {len(done.rows)} rows to {args.out}: {done.forecast} forecast, {done.kept} already done, "
          f"{done.failed} without a forecast ({args.engine} engine, {done.elapsed_s:.1f} s{rate})", file=sys.stderr)
    r = settings.risk
    named = [c for c in done.rows.columns if c.startswith(f"var_{r.positions[0]}_") and not c.endswith("_se")]
    print(f"  risk columns: VaR and ES at {', '.join(f'{a:g}' for a in r.levels)} ({', '.join(r.positions)}) of the "
          f"{settings.forecast.horizon}-bar return{f', e.g. {named[-1]}' if named else ''}; realized "
          f"volatility vol_bar (its {r.vol_interval:.0%} interval vol_bar_low/high) and vol_horizon", file=sys.stderr)
    if done.failed:
        failed = done.rows[done.rows["status"] != "ok"]
        for name, status in list(zip(failed["series"], failed["status"]))[:5]:
            print(f"  {name}: {status}", file=sys.stderr)
        if len(failed) > 5:
            print(f"  ... and {len(failed) - 5} more (see the status column)", file=sys.stderr)
    return 0
