"""The ``kronos`` command. Bad input exits non-zero with a one-line message, never a traceback.

Each subcommand lives in its own module (``forecast``, ``train``, ``lora``) and imports torch and the
model only when it runs, so ``kronos --help`` answers at once."""
from __future__ import annotations

import argparse
import os
import sys

from . import batch, evaluate, forecast, keys, ledger, lora, mcp, serve, train, train_ensemble
from .common import EXIT_BAD_INPUT, CliError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kronos", description="Kronos Studio command line")
    sub = parser.add_subparsers(dest="command", required=True)
    forecast.register(sub)
    evaluate.register(sub)
    ledger.register(sub)
    batch.register(sub)
    serve.register(sub)
    mcp.register(sub)
    keys.register(sub)
    train_sub = train.register(sub)
    lora.register(train_sub)
    train_ensemble.register(train_sub)
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
