"""The model reference ``champion``: per series, its current champion adapter in the registry
(``kronos retrain`` promotes them), or its base model when it has none. Every forecast's provenance says
which (``champion``) and names the adapter it used (``adapter_id``, kept in the ledger's row). A champion serves
only bars that hold the window it learned from where they span it: over other bars of the series' name (another
exchange's, whose venue no one named, or a split adjusted in since) the base model serves, and says why
(``champion_withheld``)."""
from __future__ import annotations

from collections.abc import Callable

from kronos.errors import Fix, InputError
from kronos_studio.bundled import default_model_path, model_reference
from kronos_studio.forecasters.base import Forecaster
from kronos_studio.forecasters.kronos import KronosForecaster
from kronos_studio.forecasters.period import period_until

CHAMPION = "champion"
WITHHELD = "champion_withheld"  # the provenance's word on a champion that did not serve these bars, and why


def withheld_reason(bars, entry) -> str | None:
    """Why ``entry``, the champion of ``bars``' series, must not serve these bars: they span the window it learned
    from and hold other bars there (``Entry.window_held``). None when it may (the same bars, or bars that do not
    span its window: nothing to compare)."""
    if entry is None or entry.window_held(bars.frame) is not False:
        return None
    return (f"champion adapter {entry.id} of {entry.series} learned from other bars than these from "
            f"{entry.first_bar_at:%Y-%m-%d %H:%M} to {entry.last_bar_at:%Y-%m-%d %H:%M} (other prices or times: "
            "another exchange's bars of this name, or a split adjusted in since)")


def withheld_fixes() -> tuple[Fix, ...]:
    """What to do when a champion does not serve bars of its series' name."""
    return (Fix("if these bars come from another exchange, name it with {setting}: two exchanges' bars are two "
                "series", "exchange"),
            Fix("or forecast the bars it learned from; or roll it back ({setting})", "rollback"))


class ChampionForecaster(Forecaster):
    """A Kronos forecaster (the champion's adapted model, or the base) that stamps what served. Every part of
    the ``Forecaster`` seam is its own method or attribute, each taking what the Kronos forecaster's takes:
    nothing reaches the inner forecaster by a name this class does not define."""

    key = CHAMPION

    def __init__(self, inner, adapter_id: int | None, note: str, lookback: int | None = None, trained_until=None,
                 withheld: str | None = None):
        self.inner, self.adapter_id, self.note, self.trained_lookback = inner, adapter_id, note, lookback
        self.trained_until = trained_until  # the last bar time the champion adapter learned from
        self.withheld = withheld  # why the series' champion does not serve these bars (None: nothing withheld)
        self.name = inner.name

    @property
    def pair(self):
        """The Kronos model that serves (the adapted one for a champion)."""
        return self.inner.pair

    @property
    def members(self) -> dict:
        return self.inner.members  # {}: one model

    @property
    def min_history(self) -> int:
        return self.inner.min_history

    @property
    def batch_size(self) -> int:
        """Walk-forward cut-offs sampled in one batched run (``sample_batch``)."""
        return self.inner.batch_size

    def describe(self) -> dict:
        """The serving model's provenance, with which champion it is (an evaluation's report names it too)."""
        return {**self.inner.describe(), "champion": self.note, "adapter_id": self.adapter_id}

    def lookback(self, horizon: int) -> int:
        """A champion reads the history its gate scored it with; the base model its own default."""
        return self.trained_lookback or self.inner.lookback(horizon)

    def lookback_reason(self, horizon: int) -> str:
        if self.trained_lookback:
            return f"the lookback champion adapter {self.adapter_id} was trained and gated with"
        return self.inner.lookback_reason(horizon)

    def training_period(self):
        """The base model's, or the champion's training window's last day when later: a walk-forward over
        the bars the adapter learned from scores memory, not forecasting."""
        base = self.inner.training_period()
        if self.trained_until is None:
            return base
        window = period_until(str(self.trained_until.date()), f"champion adapter {self.adapter_id}'s training window")
        return window if base is None or window.seen_until > base.seen_until else base

    def device(self) -> str:
        return self.inner.device()

    def _stamp(self, fc):
        fc.provenance.update({"champion": self.note, "adapter_id": self.adapter_id})
        if self.withheld:
            fc.provenance[WITHHELD] = self.withheld
        return fc

    def sample(self, history, future, settings, progress=None):
        return self._stamp(self.inner.sample(history, future, settings, progress))

    def sample_batch(self, histories, futures, settings, per_series_stream: bool = True):
        """As ``KronosForecaster.sample_batch``: a batch of series (each its own stream) or of a walk-forward's
        cut-offs (one shared stream, ``per_series_stream=False``)."""
        return [self._stamp(fc) for fc in self.inner.sample_batch(histories, futures, settings,
                                                                  per_series_stream=per_series_stream)]


def champion_entry(bars, workspace: str | None = None, ledger=None):
    """The registry's champion of ``bars``' series (None: its base model serves), read from ``ledger`` (an
    open ledger, e.g. a service's, scoped to its workspace) or else from the default ledger's ``workspace``
    (None: the default one). A caller that also keys a cache reads it once and hands the same entry to
    ``champion_forecaster``, so that the key and the forecast name one adapter."""
    from kronos_studio.ledger import Ledger
    from kronos_studio.ledger.registry import Registry, SeriesKey

    if bars is None or not hasattr(bars, "symbol"):
        raise InputError(f"'{CHAMPION}' is chosen per series, so it needs the bars' series (source, symbol, "
                         "interval), and none were given (a ranking evaluation, for one, ranks every series with one "
                         "model)", {"model": CHAMPION}, Fix("choose one model with {setting}", "model"))
    if ledger is not None:
        return Registry(ledger).champion(SeriesKey.of(bars))
    with Ledger.open(workspace=workspace) as opened:
        return Registry(opened).champion(SeriesKey.of(bars))


def champion_forecaster(bars, entry, load_pair: Callable[[str], object], pipeline,
                        served: dict | None = None) -> ChampionForecaster:
    """The forecaster ``champion`` names for ``bars``' series, whose champion is ``entry``
    (``champion_entry``; None: the base model). ``load_pair(ref)`` loads a Kronos model; ``pipeline(pair)``
    makes the studio's pipeline of it. ``served``: the Kronos forecasters already made, by ``Entry.served`` (None:
    the base), which series served by the same model share (a batch's)."""
    from kronos_studio.ledger.registry import SeriesKey

    series = SeriesKey.of(bars)
    served = {} if served is None else served
    withheld = withheld_reason(bars, entry)
    if withheld is not None:  # other bars under the series' name: the base model serves them, and says why
        entry = None
    key = None if entry is None else entry.served
    inner = served.get(key)  # one read: ``served`` may drop entries (the registry keeps a few adapters)
    if inner is None:
        inner = served[key] = _kronos_forecaster(entry, bars.interval, load_pair, pipeline)
    if withheld is not None:
        return ChampionForecaster(inner, None, f"{withheld}: the base model {inner.pair.name} serves them",
                                  withheld=withheld)
    if entry is None:
        return ChampionForecaster(inner, None, f"no champion for {series}: the base model {inner.pair.name}")
    return ChampionForecaster(inner, entry.id,
                              f"champion adapter {entry.id} of {series} (promoted {entry.decided_at:%Y-%m-%d %H:%M} "
                              f"UTC, trained on bars {entry.first_bar_at:%Y-%m-%d} to {entry.last_bar_at:%Y-%m-%d})",
                              entry.settings.get("lookback"), entry.last_bar_at)


def _kronos_forecaster(entry, interval: str, load_pair: Callable[[str], object], pipeline):
    """The base model's forecaster (``entry`` None), or the champion adapter's on the bundled base it was
    trained on, reading the events it was trained with."""
    from kronos_studio.training.adapters import apply_adapter, bundled_base
    from kronos_studio.training.retrain import adapter_events

    if entry is None:
        return KronosForecaster(pipeline(load_pair(str(default_model_path()))))
    base = bundled_base(entry.base_hash, load_pair)
    if base is None:
        raise InputError(f"champion adapter {entry.id} of {entry.series} was trained on {entry.base_model} "
                         f"({entry.base_hash}), which is not a bundled model here", {"base_model": entry.base_model},
                         (Fix("forecast with {setting}", "model", entry.base_model),
                          Fix("roll the champion back ({setting})", "rollback")))
    return KronosForecaster(pipeline(apply_adapter(base, entry.path)), adapter_events(interval))


def retrain_reference(model: str | None) -> str | None:
    """The base model ``model`` names for a retrain, as ``load_pair`` takes it (a bundled model's folder); None
    when none is named: the series' champion's base. ``champion`` names what serves each series, not a base to
    train on: refused, with the default to use."""
    from kronos_studio.training.retrain import RetrainError

    if not model:
        return None
    ref = model_reference(model)
    if ref == CHAMPION:
        raise RetrainError(f"'{CHAMPION}' is the adapter each series is served by, not a base model to train a "
                           "challenger on", {"model": CHAMPION},
                           Fix("leave {setting} out: a series is retrained on its champion's base by default", "model"))
    return str(ref)


def retrain_pair(model: str | None, champion, load_pair: Callable[[str], object]):
    """The base model a series is retrained on: ``model`` when one is named (``retrain_reference``), else the
    one its champion (a registry ``Entry``, None: it has none) was trained on (``retrain.champion_base``).
    ``load_pair(ref)`` loads a Kronos model."""
    from kronos_studio.training.retrain import champion_base

    ref = retrain_reference(model)
    return champion_base(champion, load_pair) if ref is None else load_pair(ref)


def series_retrainer(model: str | None, bars, ledger, settings, load_pair: Callable[[str], object], **options):
    """The gated retrain (``training.retrain.Retrainer``) of ``bars``' series in ``ledger``'s registry, on the base
    ``retrain_pair`` picks for ``model`` (None: its champion's base); ``options``: the Retrainer's ``log`` and
    ``made_by``. Every face's retrain of one series starts here."""
    from kronos_studio.ledger.registry import Registry, SeriesKey
    from kronos_studio.training.retrain import Retrainer

    pair = retrain_pair(model, Registry(ledger).champion(SeriesKey.of(bars)), load_pair)
    return Retrainer(pair, bars, ledger, settings, **options)
