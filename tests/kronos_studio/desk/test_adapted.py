"""A LoRA event adapter's forecast through the desk (issue 56: Kronos reads other series through its event
encoder's leader channels, named by a request): the same numbers from the desk and ``kronos forecast --adapter
--leader``; leader bars after the cut-off never reach the model; a leader the adapter never learned from is refused,
one it learned from but not given is said; the key tells forecasts with and without leaders apart."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from kronos.errors import InputError
from kronos.settings import ForecastSettings
from kronos_studio.cli import main as cli
from kronos_studio.desk import Desk, ForecastRequest
from kronos_studio.desk.adapted import AdapterRequest
from kronos_studio.desk.cache import ResultCache

TARGET = "AAPL daily 2000-2013 (bundled)"
INDEX = "S&P 500 index daily 1999-2018 (arch)"
LOOKBACK = 24
SETTINGS = ForecastSettings(horizon=3, paths=6, seed=4, lookback=LOOKBACK)


def train(bars, folder, leaders: dict):
    """An adapter trained 2 steps on ``bars`` with ``leaders`` (channel -> bars) as its leader inputs, recorded in its
    metadata as ``kronos lora --leader`` records them."""
    from kronos.checkpoints import load_pair
    from kronos_studio.bundled import default_model_path
    from kronos_studio.events import EventBuilder
    from kronos_studio.training.datasets import Series, TimeSplit, build_train_data
    from kronos_studio.training.loop import TrainConfig
    from kronos_studio.training.lora import finetune_lora

    pair = load_pair(str(default_model_path()), device="cpu")
    frame = bars.frame.iloc[-400:].reset_index(drop=True)
    val_start = frame["timestamp"].iloc[320]
    data = build_train_data([Series(bars.symbol, bars.interval, frame)], TimeSplit(val_start), LOOKBACK + 4, LOOKBACK)
    cfg = TrainConfig(steps=2, batch_size=4, lr=1e-2, warmup_steps=1, eval_every=2, val_windows=4, save_every=20,
                      log_every=2)
    finetune_lora(pair, data, EventBuilder(None, leaders or None), cfg, folder, name=folder.name, log=None,
                  run_info={"leaders": [f"{k}=sample" for k in leaders]})
    return folder


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """(target bars gated, its CSV file, the index bars, an adapter trained with an index leader, one with none)."""
    from data_sources.samples import load_sample
    from kronos_studio.bars_input import quality_gate

    folder = tmp_path_factory.mktemp("adapted")
    target, _ = quality_gate(load_sample(TARGET), [])
    index = load_sample(INDEX)
    file = folder / "aapl.csv"
    target.frame.to_csv(file, index=False)
    with_index = train(target, folder / "with-index", {"index": index})
    without = train(target, folder / "no-leaders", {})
    return target, file, index, with_index, without


def test_the_desk_and_the_command_line_give_the_same_adapted_forecast_with_a_leader(kit, tmp_path, capsys):
    target, file, _, with_index, _ = kit
    done = Desk().forecast(ForecastRequest(target, None, SETTINGS,
                                           adapter=AdapterRequest(str(with_index), None, (("index", INDEX),))))
    assert done.forecast.provenance["adapter"]["events"]["leaders"][0]["ref"] == INDEX
    code = cli.main(["forecast", str(file), "--adapter", str(with_index), "--no-bundled-events", "--leader",
                     f"index={INDEX}", "--horizon", "3", "--paths", "6", "--seed", "4", "--lookback", str(LOOKBACK),
                     "--out", str(tmp_path / "q.csv"), "--paths-out", str(tmp_path / "p.parquet"), "--no-ledger"])
    assert code == 0, capsys.readouterr().err
    by_line = pd.read_parquet(tmp_path / "p.parquet")
    mine = done.forecast.paths_frame()
    assert np.allclose(by_line["close"].to_numpy(), mine["close"].to_numpy(), rtol=1e-5)
    # the leader changes the forecast: without it the adapter reads 0 there, and says so
    plain = Desk().forecast(ForecastRequest(target, None, SETTINGS, adapter=AdapterRequest(str(with_index))))
    assert not np.allclose(plain.forecast.paths, done.forecast.paths)
    assert any("learned from the leader channel index, not given here" in n.problem for n in plain.notices)


def test_leader_bars_after_the_cutoff_never_reach_the_model(kit, tmp_path):
    """The index's bars after the target's last bar, replaced by wild ones: the same forecast, bar for bar."""
    from kronos_studio.bars_input import read_bars

    target, _, index, with_index, _ = kit
    last = target.frame["timestamp"].iloc[-1]
    cut = tmp_path / "index_cut.csv"
    wild = tmp_path / "index_wild.csv"
    frame = index.frame.copy()
    frame.loc[frame["timestamp"] <= last].to_csv(cut, index=False)
    later = frame["timestamp"] > last
    assert later.sum() > 100  # the index runs on past the target's bars
    frame.loc[later, ["open", "high", "low", "close"]] *= 3.0
    frame.to_csv(wild, index=False)
    assert read_bars(str(wild)).content_hash() != read_bars(str(cut)).content_hash()
    a = Desk().forecast(ForecastRequest(target, None, SETTINGS,
                                        adapter=AdapterRequest(str(with_index), None, (("index", str(cut)),))))
    b = Desk().forecast(ForecastRequest(target, None, SETTINGS,
                                        adapter=AdapterRequest(str(with_index), None, (("index", str(wild)),))))
    np.testing.assert_array_equal(a.forecast.paths, b.forecast.paths)


def test_a_leader_the_adapter_never_learned_from_is_refused_and_bad_channels_too(kit, tmp_path, capsys):
    target, file, _, with_index, without = kit
    with pytest.raises(InputError, match="never learned from the leader channel 'index'"):
        Desk().forecast(ForecastRequest(target, None, SETTINGS,
                                        adapter=AdapterRequest(str(without), None, (("index", INDEX),))))
    with pytest.raises(InputError, match="not a leader channel"):
        AdapterRequest(str(with_index), None, (("gold", INDEX),))
    with pytest.raises(InputError, match="cannot take a LoRA adapter"):
        Desk().forecast(ForecastRequest(target, "ensemble", SETTINGS, adapter=AdapterRequest(str(with_index))))
    code = cli.main(["forecast", str(file), "--adapter", str(without), "--no-bundled-events", "--leader",
                     f"index={INDEX}", "--horizon", "3", "--out", str(tmp_path / "q.csv"), "--no-ledger"])
    err = capsys.readouterr().err
    assert code != 0 and "never learned from the leader channel 'index'" in err and "--leader" in err
    assert "Traceback" not in err
    code = cli.main(["forecast", str(file), "--leader", f"index={INDEX}", "--horizon", "3", "--out",
                     str(tmp_path / "q.csv")])
    assert code != 0 and "go with --adapter" in capsys.readouterr().err


def test_forecasts_with_and_without_leaders_are_kept_apart(kit):
    target, _, _, with_index, _ = kit
    desk = Desk(cache=ResultCache())
    leader = AdapterRequest(str(with_index), None, (("index", INDEX),))
    assert desk.kept_forecast(ForecastRequest(target, None, SETTINGS, adapter=leader)) is None
    done = desk.forecast(ForecastRequest(target, None, SETTINGS, adapter=leader))
    kept = desk.kept_forecast(ForecastRequest(target, None, SETTINGS, adapter=leader))
    assert kept is not None and kept.forecast is done.forecast
    assert desk.kept_forecast(ForecastRequest(target, None, SETTINGS, adapter=AdapterRequest(str(with_index)))) is None
    assert desk.kept_forecast(ForecastRequest(target, None, SETTINGS)) is None  # the base model's forecast is another
    assert desk.kept_forecast(ForecastRequest(target, None, dataclasses.replace(SETTINGS, seed=5),
                                              adapter=leader)) is None
