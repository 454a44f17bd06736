"""The covariates of a request, once read (``Conditioning``), and the Chronos-2 that reads them for one target:
what the desk (one forecast, one walk-forward) and the batch (every series of a watchlist, the covariates read
once) share. Reading them is the caller's: the desk reads each through ``Desk.bars`` (``desk.covariates``).

Only Chronos-2 reads covariates from a request (Kronos reads other series only through an event adapter's leader
channels, which no request can name yet): ``not_read_by`` is the one refusal of any other model."""
from __future__ import annotations

from dataclasses import dataclass, field

from kronos.errors import Fix, InputError, Notice
from kronos.lazy import np
from kronos_studio.bundled import CHRONOS2_NAME

from .options import CovariateOptions


@dataclass
class Conditioning:
    """The covariates of a request, read: ``options`` as asked, each covariate's gated ``bars`` in order, and
    what their reading and gating noted."""

    options: CovariateOptions
    bars: list = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)

    def key(self) -> dict:
        """What a result depends on besides the target: each covariate as named, with its bars' content hash
        and series, and the scheduled events read."""
        return {"covariates": [{"ref": ref, "content_hash": b.content_hash(),
                                "series": [b.source, b.series_symbol, b.interval, b.calendar]}
                               for ref, b in zip(self.options.covariates, self.bars)],
                "known_future": list(self.options.known_future)}

    def named(self) -> list[dict]:
        """For the provenance: each covariate as named, its series and the hash of its bars."""
        return [{"ref": ref, "series": b.series_symbol, "interval": b.interval, "content_hash": b.content_hash()}
                for ref, b in zip(self.options.covariates, self.bars)]

    def check_target(self, target) -> None:
        """Refuse a ``target`` that is one of the covariates (its closes at every one of its bar times, read from
        another place or as more or fewer bars: the alignment's content-hash check would not see it)."""
        for ref, bars in zip(self.options.covariates, self.bars):
            if same_bars(bars, target):
                raise InputError(f"the covariate {ref} is the target itself (the same closes at every one of the "
                                 "target's bar times): it adds nothing and doubles its weight",
                                 {"covariate": ref, "target": target.series_symbol},
                                 Fix("condition on another series in {setting}", "covariates"))


def same_bars(covariate, target) -> bool:
    """``covariate`` holds the target's own closes at every target bar time."""
    both = target.frame[["timestamp", "close"]].merge(covariate.frame[["timestamp", "close"]], on="timestamp",
                                                      suffixes=("", "_covariate"))
    return len(both) == len(target.frame) and bool(np.allclose(both["close"], both["close_covariate"]))


def not_read_by(model, options: CovariateOptions) -> InputError:
    """The refusal of covariates named for ``model``, which does not read them."""
    return InputError(
        f"{model or 'the bundled Kronos model'} cannot read covariates: Kronos reads other series only through an "
        "event adapter's leader channels",
        {"model": model, "covariates": list(options.covariates), "known_future": list(options.known_future)},
        (Fix("condition Chronos-2 instead ({setting})", "model", CHRONOS2_NAME),
         Fix("or forecast without {setting}", "covariates")))


def shared_chronos2(warm=None):
    """The bundled Chronos-2 as the process shares it (``ensemble_member``; kept warm by ``warm``, a registry's, or
    the process's store), refused where it cannot serve."""
    from kronos_studio.ensemble.chronos2 import ensemble_member

    shared, status = ensemble_member(CHRONOS2_NAME, warm=warm)
    if shared is None:
        raise InputError(f"{CHRONOS2_NAME} cannot serve here: {status}", {"model": CHRONOS2_NAME},
                         Fix("forecast without {setting}", "covariates"))
    return shared


def conditioned_member(conditioning: Conditioning, target, plain=None, warm=None):
    """The Chronos-2 forecaster of ``target`` reading the covariates: ``plain`` (a ``Chronos2Member`` reading the
    bar columns its checkpoint records; None: the bundled one, drawing the settings' paths) with them, or ``plain`` itself when none are named. The
    alignment's refusals (the target itself, no overlap, stopped before the cut-off, coarser) come here. ``warm``:
    where the bundled one is kept loaded (a ``ModelRegistry``'s ``warm``, within its ``max_models``)."""
    from kronos_studio.ensemble.chronos2 import Chronos2Member

    from .chronos2 import CovariateChronos2

    if plain is None:
        shared = shared_chronos2(warm)
        plain = Chronos2Member(shared.pipeline, source=shared.source)
    if not conditioning.options:
        return plain
    conditioning.check_target(target)
    return CovariateChronos2(plain.pipeline, conditioning.bars, target=target,
                             known_future=conditioning.options.known_future, source=plain.source, paths=plain.paths,
                             context_length=plain.context_length, window=plain.window, batch_size=plain.batch_size)
