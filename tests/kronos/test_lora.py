"""LoRA + event embedding: identity without events, only adapter parameters change, adapters reload
to identical outputs, and the forecaster / CLI use them. Tiny random models, a few steps."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from kronos.config import KronosConfig, TokenizerConfig
from kronos.datasets import Series, TimeSplit, build_train_data
from kronos.events import CHANNELS, EventBuilder, calendar_from_frame
from kronos.forecast import Forecaster, InputError
from kronos.hub import KronosPair, save_checkpoint
from kronos.lora import (ADAPTER_CONFIG, ADAPTER_FILE, AdapterError, apply_adapter, finetune_lora, load_adapter,
                         merged_predictor, parameter_counts, prepare_lora_model)
from kronos.model import Kronos
from kronos.tokenizer import KronosTokenizer
from kronos.training import TrainConfig

PCFG = KronosConfig(10, 10, 2, 32, 2, 64, 0.0, 0.0, 0.0, 0.0, True)
TCFG = TokenizerConfig(d_model=32, n_heads=2, ff_dim=64, n_enc_layers=2, n_dec_layers=2)


def bars(n=400, seed=0):
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.004, n)))
    days = pd.bdate_range("2024-01-02", periods=n // 7 + 2, tz="America/New_York")
    ts = pd.DatetimeIndex([d + pd.Timedelta(hours=9.5 + h) for d in days for h in range(7)])[:n]
    open_ = np.r_[close[0], close[:-1]]
    return pd.DataFrame({"timestamp": ts, "open": open_, "high": np.maximum(open_, close) * 1.001,
                         "low": np.minimum(open_, close) * 0.999, "close": close,
                         "volume": rng.uniform(1e3, 5e3, n), "amount": rng.uniform(1e5, 5e5, n)})


def calendar():
    rows = [["2024-01-31 14:00", "fomc"], ["2024-03-20 14:00", "fomc"], ["2024-02-13 08:30", "cpi"],
            ["2024-03-12 08:30", "cpi"], ["2024-02-02 08:30", "nfp"], ["2024-03-08 08:30", "nfp"],
            ["2024-04-05 08:30", "nfp"], ["2024-04-10 08:30", "cpi"]]
    return calendar_from_frame(pd.DataFrame(rows, columns=["datetime", "type"]))


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("base")
    save_checkpoint(KronosTokenizer(TCFG), folder / "tokenizer")
    save_checkpoint(Kronos(PCFG), folder / "predictor")
    (folder / "bundle.json").write_text(json.dumps({"context": 64, "name": "tiny-test"}))
    from kronos.hub import load_pair

    return load_pair(folder, device="cpu")


@pytest.fixture(scope="module")
def trained(pair, tmp_path_factory):
    frame = bars()
    data = build_train_data([Series("x", "1h", frame)], TimeSplit(frame["timestamp"].iloc[300]), 48, 36,
                            stride=2)
    out = tmp_path_factory.mktemp("adapter")
    before = {k: v.clone() for k, v in pair.predictor.state_dict().items()}
    cfg = TrainConfig(steps=6, batch_size=4, lr=5e-3, warmup_steps=1, eval_every=3, val_windows=8, log_every=3)
    result = finetune_lora(pair, data, EventBuilder(calendar(), interval="1h"), cfg, out, log=None)
    return result, out, before


def forward(model, events=None, seed=1):
    g = torch.Generator().manual_seed(seed)
    s1 = torch.randint(0, 1024, (2, 24), generator=g)
    s2 = torch.randint(0, 1024, (2, 24), generator=g)
    stamp = torch.stack([torch.randint(0, n, (2, 24), generator=g) for n in (60, 24, 7, 32, 13)], -1)
    with torch.no_grad():
        return model(s1, s2, stamp, events=events)


def test_identity_without_events(pair):
    base = pair.predictor
    lora = prepare_lora_model(base)
    for a, b in zip(forward(base), forward(lora)):
        assert torch.equal(a, b)  # fresh LoRA (B = 0) and no events: bit-identical
    ev = torch.randn(2, 24, CHANNELS)
    for a, b in zip(forward(base), forward(lora, ev)):
        assert torch.equal(a, b)  # zero-initialised event embedding: still identical
    assert base.event_emb is None  # the base model was not touched


def test_counts_and_frozen(pair, trained):
    result, _, before = trained
    c = result.counts
    d, L, r = PCFG.d_model, PCFG.n_layers, 8
    assert c["lora"] == L * 2 * 2 * r * d and c["event_emb"] == CHANNELS * d + d
    assert c["trainable"] == c["lora"] + c["event_emb"] and c["other_trainable"] == 0
    assert c["total"] == sum(p.numel() for p in pair.predictor.parameters()) + c["trainable"]


def test_finetuning_changes_only_lora_and_event_parameters(pair, trained):
    result, _, before = trained
    for k, v in pair.predictor.state_dict().items():  # the shared base model is unchanged
        assert torch.equal(v, before[k]), k
    changed = set()
    for name, p in result.model.named_parameters():
        base_name = name.replace(".base_layer", "")
        if base_name in before:
            assert torch.equal(p.detach(), before[base_name]), f"{name} changed"
        else:
            changed.add(name)
    assert changed and all(".lora_" in n or n.startswith("event_emb.") for n in changed)
    assert result.adapter.state["event_emb.weight"].abs().sum() > 0  # it did learn something
    assert any(result.adapter.state[k].abs().sum() > 0 for k in result.adapter.state if "lora_B" in k)


def test_adapter_files_and_reload_identical(pair, trained):
    result, out, _ = trained
    assert (out / ADAPTER_FILE).is_file() and (out / ADAPTER_CONFIG).is_file()
    cfg = json.loads((out / ADAPTER_CONFIG).read_text())
    assert cfg["base_model"]["predictor_revision"] == pair.provenance()["predictor_revision"]
    assert cfg["lora"]["r"] == 8 and cfg["events"]["channels"] == CHANNELS
    ev = torch.randn(2, 24, CHANNELS)
    a = apply_adapter(pair, out)
    b = apply_adapter(pair, load_adapter(out))
    c = merged_predictor(pair.predictor, result.adapter)  # the in-memory adapter, never saved
    for x, y, z in zip(forward(a.predictor, ev), forward(b.predictor, ev), forward(c, ev)):
        assert torch.equal(x, y) and torch.equal(x, z)
    for x, y in zip(forward(a.predictor, ev), forward(result.model, ev)):  # merged vs unmerged peft model
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-4)
    assert a.predictor is not pair.predictor and pair.predictor.event_emb is None
    assert type(a.predictor.transformer[0].self_attn.q_proj) is torch.nn.Linear
    assert a.provenance()["adapter"] == out.name


def test_forecaster_with_adapter_and_events(pair, trained):
    _, out, _ = trained
    adapted = apply_adapter(pair, out)
    frame = bars()[:100]
    builder = EventBuilder(calendar(), interval="1h")
    future = pd.date_range(frame["timestamp"].iloc[-1] + pd.Timedelta(hours=1), periods=5, freq="1h")
    kw = dict(paths=3, seed=0, future_timestamps=future)
    with_ev = Forecaster(adapted).forecast(frame, 5, events=builder, **kw)
    again = Forecaster(apply_adapter(pair, out)).forecast(frame, 5, events=builder, **kw)
    np.testing.assert_array_equal(with_ev.paths, again.paths)
    assert with_ev.provenance["events"] is True
    with pytest.raises(InputError):
        Forecaster(pair).forecast(frame, 5, events=builder, **kw)


def test_wrong_base_is_refused(trained, tmp_path):
    _, out, _ = trained
    torch.manual_seed(5)
    other = KronosPair(KronosTokenizer(TCFG), Kronos(PCFG), 64, "other")
    with pytest.raises(AdapterError):
        apply_adapter(other, out)
    with pytest.raises(AdapterError):
        load_adapter(tmp_path)


def test_cli_train_lora(pair, tmp_path, capsys):
    from kronos.cli import main

    data = tmp_path / "bars.csv"
    bars(300).to_csv(data, index=False)
    cal = tmp_path / "cal.csv"
    calendar().frame.assign(datetime=lambda f: f["time"].astype(str))[["datetime", "type"]].to_csv(cal, index=False)
    model_dir = pair.predictor_source.path.parent
    rc = main(["train", "lora", "--model", str(model_dir), "--data", str(data), "--calendar", str(cal),
               "--out", str(tmp_path / "ad"), "--steps", "2", "--batch-size", "2", "--window", "40",
               "--eval-every", "2", "--eval-cutoffs", "2", "--horizon", "4", "--paths", "2", "--device", "cpu",
               "--quiet"])
    assert rc == 0
    err = capsys.readouterr()
    assert "trainable" in err.out + err.err and (tmp_path / "ad" / ADAPTER_FILE).is_file()
    assert (tmp_path / "ad" / "before_after.csv").is_file()
