"""Which model a subcommand runs: the --model and --context options and loading the forecaster."""
from __future__ import annotations

import argparse

from .common import CliError, cli_device, error_line, positive


def add_context_option(p: argparse.ArgumentParser) -> None:
    from kronos.config import DEFAULT_BUNDLE_CONTEXT

    p.add_argument("--context", type=positive(int), default=None, metavar="BARS",
                   help="bars the model was trained to read, for a model folder without bundle.json (official "
                        "models and folders with a bundle.json know theirs; without it such a folder is assumed "
                        f"to read {DEFAULT_BUNDLE_CONTEXT}, and the output says so)")


def context_note(pair) -> str:
    """What the output says of a context that was guessed, "" when it was known or given (or no model)."""
    if pair is None or not pair.context_assumed:
        return ""
    return f", context {pair.context} assumed (no bundle.json: pass --context)"


def add_models_dir_option(p: argparse.ArgumentParser) -> None:
    """A server's ``--models-dir``: the local models its requests may name (they name no other folder)."""
    p.add_argument("--models-dir", action="append", default=[], metavar="DIR",
                   help="a model folder (tokenizer/ + predictor/), or a folder of them, that requests may name by "
                        "its name or path (repeatable; beside the bundled and official models and "
                        "$KRONOS_STUDIO_MODELS); a request naming any other folder is refused")


def add_model_option(p: argparse.ArgumentParser, default: str = "the bundled model") -> None:
    from kronos_studio.desk import BUNDLED_NAMES, CHAMPION, ENSEMBLE, STATISTICAL

    p.add_argument("--model", default=None,
                   help=f"official name (mini, small, base), bundled model ({', '.join(BUNDLED_NAMES)}), Hub repo "
                        f"id, local folder, '{ENSEMBLE}' (the bundled ensemble), '{CHAMPION}' (the series' champion adapter from "
                        "`kronos retrain`, else its base model) or a statistical model "
                        f"({', '.join(STATISTICAL)}); default: {default}")
    p.add_argument("--ensemble", action="store_true",
                   help="mix the --model Kronos with the statistical members (HAR, GJR-GARCH, GARCH, the random walk, "
                        "the bootstrap); the bundled meta-learner weighs them only for the Kronos it was trained with, "
                        "otherwise equal weights (the provenance says which)")
    add_chronos2_option(p)


def add_chronos2_option(p: argparse.ArgumentParser) -> None:
    from kronos_studio.desk import CHRONOS2_NAME

    p.add_argument("--chronos2", default="auto", metavar="auto|off|REF",
                   help="the ensemble's Chronos-2 member: 'auto' (default) mixes amazon/chronos-2 (or "
                        "$KRONOS_STUDIO_CHRONOS2) in when its weights are already on this machine; 'off' leaves it "
                        f"out; '{CHRONOS2_NAME}' (the bundled one), a folder or Hub id is used, downloaded once if "
                        "need be. The bundled meta-learner "
                        "was trained without it, so with it the members are weighed equally (the output says so)")


def model_choices(args) -> dict:
    """What ``catalog.resolve.resolve`` takes besides the reference, as the options ask: ``ensemble``, ``meta``,
    ``chronos2``."""
    return {"ensemble": getattr(args, "ensemble", False), "meta": getattr(args, "meta", None),
            "chronos2": getattr(args, "chronos2", "auto")}


def cli_desk(args):
    """(a ``kronos_studio.desk.Desk`` whose registry loads Kronos models as the options ask: ``args.tokenizer``,
    ``args.revision``, ``args.context``, ``args.device``, ``args.precision`` where present; the pairs it loaded,
    in order, for the output line)."""
    from kronos.checkpoints import load_pair
    from kronos.config import trained_context
    from kronos_studio.desk import Desk, ModelRegistry

    context = getattr(args, "context", None)
    loaded = []

    def load(model_ref):
        known = trained_context(model_ref)
        if context is not None and known is not None and context != known:
            # Reading more bars than a model was trained for is not a setting to override quietly.
            raise CliError(f"--context {context} contradicts the {known} bars {args.model or 'the bundled model'} "
                           "was trained to read: leave --context out (it is for a folder without bundle.json)")
        loaded.append(load_pair(model_ref, getattr(args, "tokenizer", None), revision=getattr(args, "revision", None),
                                context=context, device=cli_device(args), precision=getattr(args, "precision", None)))
        return loaded[-1]

    return Desk(ModelRegistry(load=lambda ref: load(ref))), loaded


def desk_call(call):
    """``call()``, a desk's answer, with the library's refusals of a model or of the bars and settings worded as
    one line naming flags."""
    from kronos.checkpoints import CheckpointError
    from kronos.errors import UserError

    try:
        return call()
    except (CheckpointError, FileNotFoundError, ValueError, UserError) as e:  # UserError: an adapter's, too
        raise error_line(e) from None
