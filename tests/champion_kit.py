"""A champion in a registry, made quickly for the tests of the model ``champion``: a LoRA adapter trained a
few steps on a series' bars with the bundled default model, registered and promoted (by hand: the gate's
own tests are in tests/kronos_studio/training)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

LOOKBACK = 24  # the history the adapter is trained (and so forecasts) with


def promote_champion(bars, ledger, folder: Path, steps: int = 2):
    """A new adapter of ``bars``' series trained on its bars into ``folder``, promoted to the series'
    champion in ``ledger`` (its workspace), its window all of ``bars`` (their fingerprint: a champion serves only
    bars that hold it); returns the registry's entry."""
    from kronos.checkpoints import load_pair
    from kronos_studio.bundled import default_model_path
    from kronos_studio.ledger.registry import Candidate, Registry, SeriesKey
    from kronos_studio.training.adapters import base_info
    from kronos_studio.training.datasets import Series, TimeSplit, build_train_data
    from kronos_studio.training.loop import TrainConfig
    from kronos_studio.training.lora import finetune_lora
    from kronos_studio.training.retrain import adapter_events, window_fingerprint

    pair = load_pair(str(default_model_path()), device="cpu")
    frame = bars.frame
    val_start = frame["timestamp"].iloc[len(frame) - len(frame) // 5]
    data = build_train_data([Series(bars.symbol, bars.interval, frame)], TimeSplit(val_start), LOOKBACK + 4, LOOKBACK)
    cfg = TrainConfig(steps=steps, batch_size=4, lr=1e-2, warmup_steps=1, eval_every=steps, val_windows=4,
                      save_every=10 * steps, log_every=steps)
    result = finetune_lora(pair, data, adapter_events(bars.interval), cfg, folder, name=f"{bars.symbol}-test", log=None)
    base = base_info(pair)
    stamps = pd.DatetimeIndex(frame["timestamp"])
    registry = Registry(ledger)
    entry = registry.register(Candidate(
        SeriesKey.of(bars), base["name"], base["predictor_revision"], stamps[0].to_pydatetime(),
        stamps[-1].to_pydatetime(), len(frame), window_fingerprint(frame), str(folder),
        {"lookback": LOOKBACK, "horizon": 4}, "tests", content_sha256=result.adapter.digest))
    return registry.promote(entry.id)
