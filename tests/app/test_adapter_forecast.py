"""The Forecast page's LoRA event adapter through the desk (issue 56): an adapter trained with an index leader,
picked in 'Event calendar and LoRA adapter' with a *Leaders* series, forecasts through ``Desk.forecast`` (the
provenance names the adapter and the leader; the fan differs from the same adapter without its inputs); a leader
written without its channel is refused naming the control."""
from __future__ import annotations

import numpy as np
from app_helpers import kept_forecasts
from test_app import messages, small

INDEX = "S&P 500 index daily 1999-2018 (arch)"


def train_adapter(model_folder, folder):
    from data_sources import load_sample
    from kronos.checkpoints import load_pair
    from kronos_studio.events import EventBuilder
    from kronos_studio.training.datasets import as_series, build_train_data, fraction_split
    from kronos_studio.training.loop import TrainConfig
    from kronos_studio.training.lora import finetune_lora

    series = as_series(load_sample("AAPL daily 2000-2013 (bundled)"))
    data = build_train_data([series], fraction_split(series, 0.15, 0.2), 64, 48, stride=8)
    cfg = TrainConfig(steps=2, batch_size=2, warmup_steps=1, eval_every=1, val_windows=2, log_every=1)
    finetune_lora(load_pair(model_folder, device="cpu"), data, EventBuilder(None, {"index": load_sample(INDEX)}), cfg,
                  folder, name=folder.name, log=None, run_info={"leaders": ["index=spx.csv"]})


def test_an_adapter_reads_its_leader_through_the_desk(new_app, tiny_models, tmp_path):
    train_adapter(tiny_models[0], tmp_path / "cache" / "adapters" / "aapl-index")
    at = small(new_app().run(), horizon=4, paths=6)
    assert not at.exception
    at.selectbox(key="adapter_folder").select_index(1).run()
    at.text_input(key="adapter_leaders").set_value(INDEX).run()  # no channel: refused, naming the control
    assert "CHANNEL=SERIES" in messages(at.error) and "*Leaders*" in messages(at.error)
    at.text_input(key="adapter_leaders").set_value(f"index={INDEX}").run()
    at.toggle(key="adapter_both").set_value(True).run()
    at.button(key="run_forecast").click().run()
    assert not at.exception and not at.error, messages(at.error)
    fans = kept_forecasts()
    with_leader = [f for f in fans if f.provenance.get("adapter", {}).get("events", {}).get("leaders")]
    without = [f for f in fans if "adapter" in f.provenance and not f.provenance["adapter"]["events"]["leaders"]]
    assert len(with_leader) == 1 and len(without) == 1
    assert with_leader[0].provenance["adapter"]["name"] == "aapl-index"
    assert with_leader[0].provenance["adapter"]["events"]["leaders"][0]["ref"] == INDEX
    assert not np.allclose(with_leader[0].paths, without[0].paths)
    assert "fan_chart" in [c.key for c in at.get("plotly_chart")]
