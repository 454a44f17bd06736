"""A forecast or a walk-forward conditioned on other series, as the desk serves it (``kronos_studio.covariates``
is the library): the covariates a request names (``CovariateOptions``) read through ``Desk.bars`` like any
series (a file, a bundled sample, a source's ticker at the target's interval), laid on the target's bars as of
each bar's close, and read by the one model here that reads them, Chronos-2 (``CovariateChronos2``): alone, or
as the ensemble's Chronos-2 member (``mixed``: the ensemble says which member its weights were fitted on). A
batch reads them once for all its series (``read_for_batch``; ``kronos_studio.batch.conditioned``).

Kronos reads other series only through an event adapter's leader channels (``covariates.kronos``), which a
request cannot name yet; a conditioned request for any other model is refused, naming Chronos-2. A request for
Chronos-2 that names no covariates (``covariates`` empty or None) is Chronos-2 alone, served here too: the
"without" of a with/without comparison of the same model, from every face (the catalog's resolver offers the
bundled Chronos-2 only as the ensemble's member).

The result key holds every covariate's content hash and the options, so a conditioned forecast is never
served for an unconditioned one or for one conditioned on other bars; the provenance names them
(``conditioned_on``)."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from data_sources.requests import SOURCE_BARS, BarsRequest
from data_sources.sources import FILE, SAMPLE
from kronos.errors import Fix, InputError, Notice
from kronos.settings import ForecastSettings
from kronos_studio.bundled import CHRONOS2_NAME
from kronos_studio.catalog.choice import ModelChoice
from kronos_studio.catalog.identity import NOT_PER_SERIES, mixes, model_identity
from kronos_studio.catalog.kinds import kind_of
from kronos_studio.covariates.conditioning import Conditioning, conditioned_member, not_read_by
from kronos_studio.covariates.options import CovariateOptions, names_file
from kronos_studio.evaluation.report import evaluation_report
from kronos_studio.forecasters import make_forecast
from kronos_studio.forecasters.window import lookback_note

from .cache import result_key

if TYPE_CHECKING:  # read when a request names covariates: a forecast without them imports none of it
    from kronos_studio.covariates.conditioning import Conditioning
    from kronos_studio.covariates.options import CovariateOptions, CovariateRef

CONDITIONED_MODEL = CHRONOS2_NAME  # the model a conditioned request names: the bundled Chronos-2


def reads_covariates(model) -> bool:
    """``model`` (a reference or a ``ModelChoice``) names the Chronos-2 that reads covariates (its kind does:
    ``catalog.kinds``)."""
    return kind_of(model).reads_covariates



def conditioned(model: ModelChoice, options: CovariateOptions | None) -> bool:
    """Whether a request for ``model`` is served here: Chronos-2 named (as a model of its own: with covariates, or
    alone when ``options`` names none or is None), or covariates named (refused unless ``model`` reads them: the
    ensemble through its Chronos-2 member). Otherwise an unconditioned request, served as before."""
    if reads_covariates(model) and not model.ensemble:
        return True
    if not options:
        return False

    if mixes(model):  # its Chronos-2 member reads them
        return True

    raise not_read_by(model.model, options)


def request_at(ref: CovariateRef, interval: str | None, needed: int) -> BarsRequest:
    """The ``BarsRequest`` of one covariate reference for targets of ``interval``: a file, a bundled sample at its
    own interval, a source's ticker at ``interval`` (None: the targets have no one interval, and a ticker is
    refused)."""
    if ref.source == FILE:
        return BarsRequest(file=ref.symbol)
    if ref.source == SAMPLE:
        from data_sources.samples import list_samples

        interval = next(s.interval for s in list_samples() if s.name == ref.symbol)
        return BarsRequest(source=SAMPLE, symbol=ref.symbol, interval=interval, bars=needed)
    if interval is None:
        raise InputError(f"the covariate {ref.text} is a source's ticker, read at the target's interval, and these "
                         "targets have no one interval", {"covariate": ref.text},
                         (Fix("name a file or a bundled sample in {setting}", "covariates"),
                          Fix("or screen series of one interval")))
    return BarsRequest(source=ref.source, symbol=ref.symbol, interval=interval, exchange=ref.exchange, bars=needed)


def read_once(desk, options: CovariateOptions, interval: str | None, needed: int = SOURCE_BARS) -> Conditioning:
    """Each covariate ``options`` names, read through ``desk.bars`` (its reader, quality gate and limits), its
    notices named by the covariate: once for many targets (a batch's series); ``interval``: the targets' one
    interval, which a source's ticker is read at (None: they have none, and a ticker is refused)."""
    out = Conditioning(options)
    for ref in options.references():
        gated = desk.bars(request_at(ref, interval, needed))
        label = covariate_label(ref.text)
        out.bars.append(gated.bars)
        out.notices.extend(said_of_covariate(label, n) for n in gated.notices)
        out.notices.append(columns_read(label, gated.bars))
    return out


def covariate_label(ref: str) -> str:
    """A covariate as the user gave it, for what a face shows: a file by its name (never the folder it lies in on
    a server, nor the name the app keeps an upload under), a sample or a source's ticker as named."""
    return Path(ref).name if names_file(ref) else ref


# A fix naming a setting of the bars' request, said of a covariate: those settings are the target's.
OWN_SETTING = "the covariate's own, which no setting chooses ({setting} sets the target's)"


def said_of_covariate(label: str, notice: Notice) -> Notice:
    """What reading or gating a covariate noted, said of it: its fixes that name a setting of the bars' request (the
    calendar, the timezone, the gate's fixes) would act on the target, so each says that instead."""
    fixes = []
    for f in notice.fix:
        own = f if f.setting in (None, "covariates") else Fix(OWN_SETTING, f.setting)
        if own not in fixes:
            fixes.append(own)
    return Notice(f"covariate {label}: {notice.problem}", tuple(fixes), notice.kind, notice.values)


def columns_read(label: str, bars) -> Notice:
    """What of a covariate's bars is read (its close alone: ``covariates.chronos2``), and the columns it has that
    are not, as the file reader notes a column it ignores."""
    others = ["open", "high", "low"] + (["volume"] if bool((bars.frame["volume"] != 0).any()) else [])
    if not bars.amount_filled:
        others.append("amount (turnover)")
    words = ", ".join(others[:-1]) + f" and {others[-1]}"
    return Notice(f"covariate {label}: its close alone is read (Chronos-2 reads a covariate as its log close on the "
                  f"target's bars); its {words} columns are ignored", kind="note",
                  values={"covariate": label, "ignored": others})


def read_for_batch(desk, model, options: CovariateOptions | None, intervals) -> Conditioning | None:
    """The covariates every series of a batch is conditioned on (None: ``options`` names none and ``model`` is not
    Chronos-2; none read for Chronos-2 alone, as a forecast serves it), read once after ``model`` was checked (only
    the bundled Chronos-2 reads them: ``not_read_by``); ``intervals``: the series' intervals where known (None for a
    file's), a source's ticker read at their one interval."""
    if not options:
        return Conditioning(CovariateOptions()) if reads_covariates(model) else None
    if not reads_covariates(model):
        raise not_read_by(model, options)
    intervals = set(intervals)
    return read_once(desk, options, intervals.pop() if len(intervals) == 1 else None)


def read(desk, options: CovariateOptions, target) -> Conditioning:
    """``read_once`` for one target (its interval, twice its bars: a calendar with more bars than the target's
    still covers it), a covariate that is the target itself refused."""
    out = read_once(desk, options, target.interval, max(SOURCE_BARS, 2 * len(target.frame)))
    out.check_target(target)
    return out


def identity(conditioning: Conditioning) -> dict:
    """The model part of a conditioned result's key: which Chronos-2 checkpoint, as its files are now."""
    from kronos_studio.ensemble.chronos2 import ensemble_state

    return {"model": CONDITIONED_MODEL, "chronos2": ensemble_state(CONDITIONED_MODEL)}


def member(desk, conditioning: Conditioning, target):
    """The Chronos-2 forecaster reading the covariates (the plain member when none are named), drawing the
    settings' paths; its weights kept warm by the desk's registry (within its ``max_models``)."""
    return conditioned_member(conditioning, target, warm=desk.registry.warm)


def mixed(desk, model: ModelChoice, conditioning: Conditioning, bars, settings: ForecastSettings, workspace):
    """(the ensemble ``model`` names for ``bars``, its Chronos-2 member reading the covariates; its
    identity for keys; the notices: its weights fitted on the unconditioned member, where they were). Refused
    when no Chronos-2 joins it (nothing would read the covariates)."""
    ident = model_identity(model, bars, workspace, NOT_PER_SERIES)
    ensemble = desk.forecaster(model, bars, settings, workspace, NOT_PER_SERIES)
    plain = ensemble.members.get(CHRONOS2_KEY)
    if plain is None:
        why = ensemble.notes.get(CHRONOS2_KEY, "Chronos-2 left out")
        raise InputError(f"the ensemble reads covariates only through its Chronos-2 member, and none joins it ({why})",
                         {"model": "ensemble", "covariates": list(conditioning.options.covariates)},
                         (Fix("let the bundled Chronos-2 join ({setting})", "chronos2", CHRONOS2_NAME),
                          Fix("or forecast without {setting}", "covariates")))
    reading = conditioned_member(conditioning, bars, plain)
    ensemble, said = ensemble.with_member(CHRONOS2_KEY, reading, _what(conditioning))
    notices = [] if said is None else [Notice(said, (Fix("weigh it with a meta-learner fitted on it ({setting}), or "
                                                         "forecast without covariates", "meta"),))]
    return ensemble, ident, notices


CHRONOS2_KEY = "chronos2"  # the ensemble's Chronos-2 member's key (``ensemble.chronos2.Chronos2Member.key``)


def _what(conditioning: Conditioning) -> str:
    """The covariates read, in words."""
    return ", ".join([covariate_label(ref) for ref in conditioning.options.covariates]
                     + [f"scheduled {k}" for k in conditioning.options.known_future])


def _serving(desk, model: ModelChoice, conditioning: Conditioning, bars, settings: ForecastSettings, workspace):
    """(the forecaster of a conditioned request, its identity for keys, the model it samples as, notices): the
    ensemble with its Chronos-2 reading the covariates, or the bundled Chronos-2 reading them."""
    if mixes(model):
        ensemble, ident, notices = mixed(desk, model, conditioning, bars, settings, workspace)
        return ensemble, ident, ident["model"], notices
    return member(desk, conditioning, bars), identity(conditioning), CONDITIONED_MODEL, []


def chronos2_alone(desk, target):
    """(a maker of Chronos-2 alone, as a request conditioned on nothing is served; its identity for keys), where a
    use case runs it as a model of its own (the risk backtest beside another model)."""
    conditioning = Conditioning(CovariateOptions())
    return (lambda: member(desk, conditioning, target)), identity(conditioning)


def _provenance(provenance: dict, conditioning: Conditioning) -> None:
    provenance["conditioned_on"] = conditioning.named()
    provenance["known_future"] = list(conditioning.options.known_future)


def forecast(desk, gated, options: CovariateOptions, settings: ForecastSettings, *, workspace, future, stamps,
             progress, waiting, model: ModelChoice | str = CONDITIONED_MODEL):
    """``Desk.forecast`` conditioned on ``options``' covariates (``gated``: the target's bars, gated; ``stamps``:
    ``future`` for the key; ``model``: Chronos-2, or the ensemble (a ``ModelChoice``)):
    ((forecast, lookback note), from the cache, the bars' and the covariates' notices)."""
    bars = gated.bars
    conditioning = read(desk, options or CovariateOptions(), bars)
    # the alignment's refusals, before any forecast
    forecaster, ident, samples_as, notices = _serving(desk, ModelChoice.of(model), conditioning, bars, settings,
                                                      workspace)
    said = _alignment(forecaster, bars) if conditioning.bars else None

    def compute():
        with desk.registry.sampling(samples_as, workspace):
            fc = make_forecast(forecaster, bars, settings, future, progress=progress)
        _provenance(fc.provenance, conditioning)
        return fc, lookback_note(forecaster, settings, len(fc.history))

    made, hit = desk._kept(lambda: result_key("forecast", bars, ident, settings, workspace, future=stamps,
                                              **conditioning.key()), compute, waiting)
    return made, hit, gated.notices + conditioning.notices + list(said.notices if said else ()) + notices


def _alignment(forecaster, bars):
    """What the covariates' alignment says of a forecast of ``bars`` (the Chronos-2 reading them, or the
    ensemble's member)."""
    reader = forecaster.members.get(CHRONOS2_KEY, forecaster)
    return reader.alignment(bars.frame)


def evaluate(desk, gated, options: CovariateOptions, settings: ForecastSettings, *, plan, workspace, file,
             model: ModelChoice | str = CONDITIONED_MODEL):
    """``Desk.evaluate`` conditioned on ``options``' covariates, every cut-off reading them as of its own close:
    (report, from the cache, the bars' and the covariates' notices)."""
    bars = gated.bars
    conditioning = read(desk, options or CovariateOptions(), bars)
    forecaster, ident, samples_as, notices = _serving(desk, ModelChoice.of(model), conditioning, bars, settings,
                                                      workspace)

    def compute():
        report = evaluation_report(desk.registry.in_turn(forecaster, samples_as, workspace), bars, settings, plan,
                                   file=file)
        report.out["conditioned_on"] = conditioning.named()
        report.out["known_future"] = list(conditioning.options.known_future)
        return report

    report, hit = desk._kept(lambda: result_key("evaluate", bars, ident, settings, workspace,
                                                plan=dataclasses.asdict(plan), file=file, **conditioning.key()),
                             compute)
    return report, hit, gated.notices + conditioning.notices + notices


# What docs/covariates.md measured, said wherever a conditioned forecast is shown.
MEASURED = ("measured so far, no model forecasts these markets better with covariates than without "
            "(docs/covariates.md)")


def conditioned_note(provenance: dict) -> str:
    """What a conditioned forecast read, in words, for a face to print under it ('' for one not conditioned)."""
    named = provenance.get("conditioned_on")
    if named is None:
        return ""
    events = provenance.get("known_future") or []
    if not named and not events:
        return "Chronos-2 alone, conditioned on nothing (the without of a with/without comparison)"
    what = [f"{covariate_label(c['ref'])} ({c['series']} {c['interval']})" for c in named] + [
        f"scheduled {k}" for k in events]
    who = "the ensemble's Chronos-2 member" if provenance.get("model") == "ensemble" else "Chronos-2"
    return f"{who} conditioned on {', '.join(what)}; {MEASURED}"
