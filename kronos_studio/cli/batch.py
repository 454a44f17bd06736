"""``kronos batch``: forecast every series of a watchlist and write one screening row per series."""
from __future__ import annotations

import argparse
import sys

from .commands import add_command
from .common import CliError, add_knob_options, add_sampling_options, add_threads_option, error_line, positive


def touch_levels(text: str) -> tuple[float, ...]:
    try:
        levels = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--touch-levels must be comma-separated returns like -0.1,0.05, got '{text}'") from None
    from kronos_studio.batch.summary import bad_touch_levels

    if bad_touch_levels(levels):
        raise argparse.ArgumentTypeError(f"--touch-levels are returns between -1 and 10, not 0 (e.g. -0.1 for -10%), got '{text}'")
    return levels


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
    p.add_argument("--touch-levels", dest="touch_levels", type=touch_levels, default=(-0.05, 0.05), metavar="R1,R2",
                   help="returns whose touch probability to report, e.g. -0.1,0.05 (default -0.05,0.05)")
    from kronos_studio.batch.forecaster import RISK_KNOBS
    from kronos_studio.risk.measures import RiskSettings

    risk_columns = p.add_argument_group("risk columns (as kronos risk reads them, at the horizon)")
    add_knob_options(risk_columns, RiskSettings, only=RISK_KNOBS)
    p.add_argument("--calendar", default=None,
                   help="trading calendar of the bar files: XNYS, XLON, ..., 24/7, FX (default: inferred from each "
                        "file's bar times, as kronos forecast does; fetched series come with their source's)")
    p.add_argument("--fix", action="append", default=[], metavar="FIX",
                   help="accept a fix the data-quality gate offers, for every series (e.g. sort, drop_duplicates); "
                        "repeatable")
    p.add_argument("--out", default=None, help="results Parquet: one row per series (required without --evaluate)")
    p.add_argument("--steps-out", default=None, help="optional Parquet of per-step quantiles (series x step)")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local: this process (default); ray: actors on a Ray cluster")
    p.add_argument("--ray-address", default=None,
                   help="Ray cluster to join (e.g. ray://head:10001 or auto); default: a local Ray instance")
    p.add_argument("--workers", type=positive(int), default=None, help="Ray actors (default: one per CPU)")
    p.add_argument("--device", choices=["cpu", "cuda", "mps"], default=None)
    add_threads_option(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    from .batch_evaluate import add_evaluate_options, path_counts

    evaluation = add_evaluate_options(p)
    from .common import add_covariate_options

    add_covariate_options(p)
    p._option_string_actions["--paths"].type = path_counts  # several counts with --evaluate
    # Each mode's own options, with their defaults: one given to the other mode is refused, not silently unread.
    screen = [p._option_string_actions[f] for f in ("--out", "--steps-out", "--touch-levels")] + risk_columns._group_actions
    p.set_defaults(func=run_batch_command, screen_only=own_options(screen),
                   evaluate_only=own_options(a for a in evaluation._group_actions if a.dest != "evaluate"))


def own_options(actions) -> dict[str, tuple[str, object]]:
    """dest -> (the option's public flag, its default) of argparse ``actions``."""
    return {a.dest: (a.option_strings[0], a.default) for a in actions if a.help != argparse.SUPPRESS}


def unread(args, own: dict[str, tuple[str, object]]) -> list[str]:
    """The flags of ``own`` options given (set away from their default)."""
    return [flag for dest, (flag, default) in own.items() if getattr(args, dest) != default]


def risk_settings(args):
    """The ``RiskSettings`` of the batch's risk columns the risk options ask for (one line naming a bad value
    otherwise); a list option not given is the setting's default."""
    from kronos.settings import knobs
    from kronos_studio.batch.forecaster import RISK_KNOBS
    from kronos_studio.risk.measures import RiskSettings

    given = {name: getattr(args, knob.name(name)) for name, (_, knob) in knobs(RiskSettings).items()
             if name in RISK_KNOBS}
    try:
        return RiskSettings(per_step=False, **{k: v for k, v in given.items() if v is not None})
    except ValueError as e:
        raise error_line(e) from None


def run_batch_command(args) -> int:
    from kronos.checkpoints import CheckpointError
    from kronos_studio.batch.engine import BatchRun, run_batch
    from kronos_studio.batch.forecaster import BatchSettings
    from kronos_studio.batch.ray_engine import RayEngineError
    from kronos_studio.batch.watchlist import read_watchlist
    from kronos_studio.desk import Desk
    from kronos_studio.desk.covariates import read_for_batch

    from .batch_evaluate import run_evaluate, single_paths
    from .common import cli_device, covariate_options, sampling_settings

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
    if args.engine == "local" and (args.ray_address or args.workers):
        raise CliError("--ray-address and --workers apply to --engine ray")
    if not str(args.out).endswith((".parquet", ".pq")):
        raise CliError(f"--out must be a .parquet file, got '{args.out}'")
    entries = read_watchlist(args.watchlist)
    settings = BatchSettings(sampling_settings(args), touch_levels=args.touch_levels, risk=risk_settings(args))
    conditioning = read_for_batch(Desk(), args.model, covariates, (e.interval for e in entries))
    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=len(entries), desc="forecasting", unit="series", file=sys.stderr, leave=False)

    def progress(done, todo, rate):
        bar.total = todo
        bar.n = done
        bar.set_postfix_str(f"{rate:.1f} series/s", refresh=True)

    try:
        result = run_batch(entries, settings, BatchRun(
            model=args.model, out=args.out, steps_out=args.steps_out, engine=args.engine, ray_address=args.ray_address,
            workers=args.workers, device=cli_device(args), fixes=tuple(args.fix), calendar=args.calendar,
            covariates=conditioning),
            progress if bar is not None else None)
    except (CheckpointError, FileNotFoundError, RayEngineError, ValueError) as e:
        raise error_line(e) from None
    finally:
        if bar is not None:
            bar.close()
    from kronos_studio.batch.engine import interval_notices, risk_notices
    from kronos_studio.batch.summary import risk_column
    from kronos_studio.desk.desk import paths_notices

    from .errors import notice_line

    for notice in (paths_notices(args.paths) + interval_notices(result.rows) + risk_notices(result.rows)
                   + (conditioning.notices if conditioning is not None else [])):
        print(notice_line(notice), file=sys.stderr)
    if conditioning is not None:
        from kronos_studio.desk.covariates import conditioned_note

        print(f"note: {conditioned_note({'conditioned_on': conditioning.named(), 'known_future': list(conditioning.options.known_future)})} "
              "(each row's covariate_notes: its own alignment)", file=sys.stderr)
    rate = f", {result.series_per_minute:.0f} series/min" if result.forecast else ""
    print(f"wrote {len(result.rows)} rows to {args.out}: {result.forecast} forecast, {result.kept} already done, "
          f"{result.failed} without a forecast ({args.engine} engine, {result.elapsed_s:.1f} s{rate})", file=sys.stderr)
    r = settings.risk
    print(f"  risk columns: VaR and ES at {', '.join(f'{a:g}' for a in r.levels)} ({', '.join(r.positions)}) of the "
          f"{settings.forecast.horizon}-bar return, e.g. {risk_column('var', r.positions[0], r.levels[-1])}; realized "
          f"volatility vol_bar (its {r.vol_interval:.0%} interval vol_bar_low/high) and vol_horizon", file=sys.stderr)
    if result.failed:
        failed = result.rows[result.rows["status"] != "ok"]
        for name, status in list(zip(failed["series"], failed["status"]))[:5]:
            print(f"  {name}: {status}", file=sys.stderr)
        if len(failed) > 5:
            print(f"  ... and {len(failed) - 5} more (see the status column)", file=sys.stderr)
    return 0

