"""The model reference ``champion``: per series, its current champion adapter in the registry
(``kronos retrain`` promotes them), or its base model when it has none. Every forecast's provenance says
which (``champion``) and names the adapter it used (``adapter_id``, kept in the ledger's row)."""
from __future__ import annotations

from collections.abc import Callable

from kronos.errors import Fix, InputError

CHAMPION = "champion"


class ChampionForecaster:
    """A Kronos forecaster (the champion's adapted model, or the base) that stamps what served."""

    key = CHAMPION

    def __init__(self, inner, adapter_id: int | None, note: str, lookback: int | None = None):
        self.inner, self.adapter_id, self.note, self.trained_lookback = inner, adapter_id, note, lookback
        self.name = inner.name

    def lookback(self, horizon: int) -> int:
        """A champion reads the history its gate scored it with; the base model its own default."""
        return self.trained_lookback or self.inner.lookback(horizon)

    def __getattr__(self, name):  # lookback, describe, training_period, walk_forward_fn, members, ...
        return getattr(self.inner, name)

    def _stamp(self, fc):
        fc.provenance.update({"champion": self.note, "adapter_id": self.adapter_id})
        return fc

    def sample(self, history, future, settings, progress=None):
        return self._stamp(self.inner.sample(history, future, settings, progress))

    def sample_batch(self, histories, futures, settings):
        return [self._stamp(fc) for fc in self.inner.sample_batch(histories, futures, settings)]


def champion_forecaster(bars, workspace: str | None, load_pair: Callable[[str], object], pipeline) -> ChampionForecaster:
    """The forecaster ``--model champion`` names for ``bars``' series in ``workspace`` (None: the default
    one). ``load_pair(ref)`` loads a Kronos model; ``pipeline(pair)`` makes the studio's pipeline of it."""
    from kronos_studio.bundled import bundled_models, default_model_path
    from kronos_studio.ledger import Ledger
    from kronos_studio.ledger.registry import Registry, SeriesKey
    from kronos_studio.training.adapters import apply_adapter, base_info
    from kronos_studio.training.retrain import adapter_events

    from .kronos import KronosForecaster

    if bars is None or not hasattr(bars, "symbol"):
        raise InputError(f"'{CHAMPION}' is chosen per series, so it needs the bars' series (source, symbol, interval); "
                         "a batch loads one model for every series and cannot take it yet", {"model": CHAMPION},
                         Fix("forecast one series at a time with {setting}", "model", CHAMPION))
    series = SeriesKey.of(bars)
    with Ledger.open(workspace=workspace) as ledger:
        entry = Registry(ledger).champion(series)
    default = str(default_model_path())
    if entry is None:
        base = load_pair(default)
        return ChampionForecaster(KronosForecaster(pipeline(base)), None,
                                  f"no champion for {series}: the base model {base.name}")
    for ref in dict.fromkeys([default, *map(str, bundled_models().values())]):
        base = load_pair(ref)
        if base_info(base)["predictor_revision"] == entry.base_hash:
            break
    else:
        raise InputError(f"champion adapter {entry.id} of {series} was trained on {entry.base_model} "
                         f"({entry.base_hash}), which is not a bundled model here", {"base_model": entry.base_model},
                         (Fix("forecast with {setting}", "model", entry.base_model),
                          Fix("roll the champion back (kronos adapters rollback)")))
    adapted = apply_adapter(base, entry.path)
    return ChampionForecaster(KronosForecaster(pipeline(adapted), adapter_events(bars.interval)), entry.id,
                              f"champion adapter {entry.id} of {series} (promoted {entry.decided_at:%Y-%m-%d %H:%M} "
                              f"UTC, trained on bars {entry.first_bar_at:%Y-%m-%d} to {entry.last_bar_at:%Y-%m-%d})",
                              entry.settings.get("lookback"))
