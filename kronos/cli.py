"""The ``kronos`` command. Bad input exits non-zero with a one-line message, never a traceback."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

EXIT_BAD_INPUT = 2


class CliError(Exception):
    """A problem the user can fix; printed as one line."""


def _quantile_levels(text: str) -> list[float]:
    try:
        levels = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--quantiles must be comma-separated numbers like 0.1,0.5,0.9, got '{text}'")
    if not levels or any(not 0 < q < 1 for q in levels):
        raise argparse.ArgumentTypeError(f"--quantiles must lie strictly between 0 and 1, got '{text}'")
    return levels


def _read_bars(path: str, timezone: str | None = None, calendar: str | None = None):
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise CliError(f"input file '{path}' does not exist")
    try:
        from data_sources.files import read_bars_file
    except ImportError:  # data_sources is part of the same distribution; this keeps kronos usable alone
        read_bars_file = None
    if read_bars_file is not None:
        try:
            return read_bars_file(p, timezone=timezone, calendar=calendar)
        except Exception as e:  # the reader's errors name the problem and the fix
            raise CliError(f"cannot read '{path}': {e}") from None
    try:
        return pd.read_parquet(p) if p.suffix.lower() in (".parquet", ".pq") else pd.read_csv(p)
    except Exception as e:
        raise CliError(f"cannot read '{path}' as CSV/Parquet: {e}") from None


def _quality_gate(bars, fixes: list[str]):
    """The data-quality gate before the forecast: (bars with the accepted fixes, warning lines).
    Error-level findings block, in one line naming them and the --fix that would clear each; the
    warnings are printed once the forecast succeeded, so that a failure stays one line."""
    try:
        from data_sources import apply_fixes, check_bars
    except ImportError:
        return bars, []
    if not hasattr(bars, "frame"):  # a plain DataFrame (data_sources absent): nothing to check
        return bars, []
    if fixes:
        try:
            bars = apply_fixes(bars, fixes)
        except ValueError as e:
            raise CliError(f"cannot apply --fix {','.join(fixes)}: {e}") from None
    found = check_bars(bars)
    blocking = [f for f in found if f.severity == "error"]
    if blocking:
        parts = [f"{f.code}: {f.message}" + (f" (accept with --fix {f.fix})" if f.fix else "") for f in blocking]
        raise CliError("the data-quality gate blocks the forecast: " + "; ".join(parts))
    return bars, [f"kronos: warning: {f.code}: {f.message}" + (f" (accept with --fix {f.fix})" if f.fix else "")
                  for f in found if f.severity == "warning"]


def add_forecast_parser(sub) -> None:
    p = sub.add_parser("forecast", help="forecast the bars in a CSV/Parquet file",
                       description="Sample future paths with Kronos and write per-step quantiles.")
    p.add_argument("file", help="CSV or Parquet with a timestamp column and open, high, low, close[, volume, amount]")
    p.add_argument("--model", default=None,
                   help="official name (mini, small, base), Hub repo id, or local folder; default: the bundled model")
    p.add_argument("--tokenizer", default=None, help="tokenizer repo id or folder (official names know theirs)")
    p.add_argument("--revision", default=None, help="Hub revision (commit) of the model")
    p.add_argument("--horizon", type=int, required=True, help="bars to forecast")
    p.add_argument("--paths", type=int, default=30, help="sample paths (default 30)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-p", type=float, default=0.9)
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--lookback", type=int, default=None, help="context bars (default: the model's context)")
    p.add_argument("--quantiles", type=_quantile_levels, default=[0.1, 0.5, 0.9])
    p.add_argument("--out", required=True, help="quantiles CSV to write")
    p.add_argument("--paths-out", default=None, help="optional CSV/Parquet of every sampled path")
    p.add_argument("--provenance-out", default=None, help="optional JSON of settings and provenance")
    p.add_argument("--timezone", default=None,
                   help="IANA timezone of times without a UTC offset, e.g. America/New_York (default: UTC, warned)")
    p.add_argument("--calendar", default=None,
                   help="trading calendar for gaps and future bar times: XNYS, XLON, ..., 24/7, FX (default: inferred)")
    p.add_argument("--fix", action="append", default=[], metavar="FIX",
                   help="accept a fix the data-quality gate offers (e.g. adjust_splits, sort); repeatable")
    p.add_argument("--device", choices=["cpu", "cuda", "mps"], default=None)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_forecast)


def run_forecast(args) -> int:
    from .device import resolve_device
    from .forecast import Forecaster, ForecastSettings, InputError
    from .hub import CheckpointError, load_pair

    try:
        device = resolve_device(args.device)
        settings = ForecastSettings(horizon=args.horizon, paths=args.paths, seed=args.seed,
                                    temperature=args.temperature, top_p=args.top_p, top_k=args.top_k,
                                    lookback=args.lookback)
    except (ValueError, InputError) as e:
        raise CliError(str(e)) from None
    bars, warnings = _quality_gate(_read_bars(args.file, args.timezone, args.calendar), args.fix)
    model = args.model
    if model is None:
        from .bundled import default_model_path
        try:
            model = default_model_path()
        except FileNotFoundError as e:
            raise CliError(str(e)) from None
    try:
        pair = load_pair(model, args.tokenizer, revision=args.revision, device=device)
    except CheckpointError as e:
        raise CliError(str(e)) from None
    forecaster = Forecaster(pair)
    bar = None
    if not args.quiet and sys.stderr.isatty() or (not args.quiet and args.horizon >= 50):
        from tqdm import tqdm
        bar = tqdm(total=args.horizon, desc="sampling", unit="bar", file=sys.stderr)
    try:
        fc = forecaster.forecast(bars, settings=settings,
                                 progress=(lambda i, n: bar.update(1)) if bar else None)
    except InputError as e:
        raise CliError(str(e)) from None
    finally:
        if bar is not None:
            bar.close()
    table = fc.quantiles(args.quantiles)
    table.reset_index().to_csv(args.out, index=False)
    if args.paths_out:
        paths = fc.paths_frame()
        if args.paths_out.endswith((".parquet", ".pq")):
            paths.to_parquet(args.paths_out, index=False)
        else:
            paths.to_csv(args.paths_out, index=False)
    if args.provenance_out:
        Path(args.provenance_out).write_text(json.dumps(fc.provenance, indent=2, default=str))
    for line in warnings:
        print(line, file=sys.stderr)
    print(f"wrote {len(table)} rows x {table.shape[1]} quantile columns to {args.out} "
          f"({fc.paths.shape[0]} paths, {fc.provenance['model']}, {fc.provenance['device']}, "
          f"{fc.provenance['elapsed_s']} s)", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kronos", description="Kronos Studio command line")
    sub = parser.add_subparsers(dest="command", required=True)
    add_forecast_parser(sub)
    try:
        from .train_cli import register as register_train
    except ImportError:
        register_train = None
    if register_train is not None:
        register_train(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CliError as e:
        print(f"kronos: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("kronos: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug, not bad input: still one line, with a way to get the details
        if os.environ.get("KRONOS_DEBUG"):
            raise
        print(f"kronos: internal error: {type(e).__name__}: {e} (set KRONOS_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
