"""Before and after: the base model's and the adapted model's forecasts of the same bars, scored alike."""
from __future__ import annotations

from kronos.checkpoints import KronosPair
from kronos.settings import default
from kronos_studio.events import EventBuilder


def before_after(base: KronosPair, adapted: KronosPair, bars, builder: EventBuilder, *, horizon: int,
                 start=None, n_cutoffs: int = 20, lookback: int | None = None, paths: int = default("paths"),
                 seed: int = 0, baselines: bool = True, progress=None) -> dict:
    """Walk-forward on the same cut-offs (from ``start`` on, e.g. the held-out test period): the base
    model, the adapter with events, the adapter without events, and the naive baselines."""
    from kronos.bars import bars_frame
    from kronos.pipeline import KronosPipeline
    from kronos_studio.evaluation.baselines import baselines_by_label
    from kronos_studio.evaluation.walk_forward import choose_cutoffs, compare, cutoffs_from_time, kronos_forecast_fn

    lookback = lookback or base.context
    frame = bars_frame(bars)
    if start is not None:
        cutoffs = cutoffs_from_time(frame, start, horizon, n_cutoffs, lookback)
    else:
        cutoffs = choose_cutoffs(len(frame), horizon, n_cutoffs, lookback)
    models = {
        f"{base.name} (base)": kronos_forecast_fn(KronosPipeline(base), paths=paths),
        f"{adapted.name} + events": kronos_forecast_fn(KronosPipeline(adapted), paths=paths, events=builder),
        f"{adapted.name}, no events": kronos_forecast_fn(KronosPipeline(adapted), paths=paths),
    }
    if baselines:
        models.update(baselines_by_label(paths=max(paths, 100)))
    return compare(models, frame, horizon=horizon, cutoffs=cutoffs, lookback=lookback, seed=seed,
                   progress=progress)
