"""LoRA + event embedding: identity without events, only adapter parameters change, adapters reload
to identical outputs, and the forecaster / CLI use them. Tiny random models, a few steps."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from kronos.checkpoints import KronosPair, save_checkpoint
from kronos.config import KronosConfig, TokenizerConfig
from kronos.errors import InputError
from kronos.model import Kronos
from kronos.pipeline import KronosPipeline
from kronos.tokenizer import KronosTokenizer
from kronos_studio.events import CHANNELS, EventBuilder, calendar_from_frame
from kronos_studio.training.adapter_files import ADAPTER_CONFIG, ADAPTER_FILE, EVENT_FILE, META_FILE
from kronos_studio.training.adapters import (
    AdapterError,
    adapter_metadata,
    apply_adapter,
    load_adapter,
    merged_predictor,
    prepare_lora_model,
)
from kronos_studio.training.datasets import Series, TimeSplit, build_train_data
from kronos_studio.training.loop import TrainConfig
from kronos_studio.training.lora import finetune_lora
from kronos_studio.training.state import ResumeError

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
    from kronos.checkpoints import load_pair

    return load_pair(folder, device="cpu")


def lora_data():
    frame = bars()
    return build_train_data([Series("x", "1h", frame)], TimeSplit(frame["timestamp"].iloc[300]), 48, 36, stride=2)


@pytest.fixture(scope="module")
def trained(pair, tmp_path_factory):
    data = lora_data()
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
    for f in (ADAPTER_FILE, ADAPTER_CONFIG, EVENT_FILE, META_FILE):
        assert (out / f).is_file(), f
    peft_cfg = json.loads((out / ADAPTER_CONFIG).read_text())
    assert peft_cfg["peft_type"] == "LORA" and peft_cfg["r"] == 8 and peft_cfg["lora_alpha"] == 16
    meta = json.loads((out / META_FILE).read_text())
    assert meta["format"] == "kronos-studio-lora" and meta["version"] == 2
    base = meta["base_model"]
    assert base["name"] == "tiny-test" and base["context"] == 64
    assert base["predictor_revision"] == pair.provenance()["predictor_revision"]
    assert base["tokenizer_revision"].startswith("local:")
    assert meta["events"]["channels"] == CHANNELS
    assert meta["training"]["best_step"] == result.best_step and meta["training"]["base_val_loss"] == result.base_val
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
    with_ev = KronosPipeline(adapted).predict(frame, 5, events=builder, **kw)
    again = KronosPipeline(apply_adapter(pair, out)).predict(frame, 5, events=builder, **kw)
    np.testing.assert_array_equal(with_ev.paths, again.paths)
    assert with_ev.provenance["events"] is True
    with pytest.raises(InputError):
        KronosPipeline(pair).predict(frame, 5, events=builder, **kw)


def test_wrong_base_is_refused(trained, tmp_path):
    _, out, _ = trained
    torch.manual_seed(5)
    other = KronosPair(KronosTokenizer(TCFG), Kronos(PCFG), 64, "other")
    with pytest.raises(AdapterError):
        apply_adapter(other, out)
    with pytest.raises(AdapterError):
        load_adapter(tmp_path)


def test_cli_train_lora(pair, tmp_path, capsys, sampled):
    from kronos_studio.cli.main import main

    data = tmp_path / "bars.csv"
    bars(300).to_csv(data, index=False)
    cal = tmp_path / "cal.csv"
    calendar().frame.assign(datetime=lambda f: f["time"].astype(str))[["datetime", "type"]].to_csv(cal, index=False)
    model_dir = pair.predictor_source.path.parent
    rc = main(["train", "lora", "--model", str(model_dir), "--data", str(data), "--calendar", str(cal),
               "--out", str(tmp_path / "ad"), "--steps", "2", "--batch-size", "2", "--window", "40",
               "--eval-every", "2", "--eval-cutoffs", "2", "--horizon", "4", "--paths", "2", "--device", "cpu",
               "--quiet", "--temperature", "0.7", "--no-anchor"])
    assert rc == 0
    # the sampling options reach the before/after evaluation's sampler
    assert sampled and {(s.temperature, s.anchor, s.paths) for s in sampled} == {(0.7, False, 2)}
    err = capsys.readouterr()
    assert "trainable" in err.out + err.err and (tmp_path / "ad" / ADAPTER_FILE).is_file()
    table = pd.read_csv(tmp_path / "ad" / "before_after.csv")
    assert {"random walk (hist. vol)", "bootstrap (past returns)"} <= set(table["model"])  # labels, not keys
    _assert_no_paths(tmp_path / "ad", tmp_path, model_dir)
    assert load_adapter(tmp_path / "ad").config["training"]["calendars"] == ["cal.csv"]


@pytest.fixture
def sampled(monkeypatch) -> list:
    """The settings of every Kronos sampling run, however it was called."""
    made = []
    original = KronosPipeline.sample

    def spy(self, histories, futures, settings, **kwargs):
        made.append(settings)
        return original(self, histories, futures, settings, **kwargs)

    monkeypatch.setattr(KronosPipeline, "sample", spy)
    return made


def test_before_after_samples_every_model_with_the_settings_whole(pair, trained, sampled):
    """The comparison rebuilt its settings from horizon, paths and seed, so a temperature or a clip asked
    for was dropped: the base model and the adapter sampled at the defaults."""
    from kronos.settings import ForecastSettings
    from kronos_studio.training.before_after import BeforeAfterOptions, before_after

    settings = ForecastSettings(horizon=4, paths=2, seed=7, temperature=0.5, clip=2.5, top_k=5)
    adapted = apply_adapter(pair, trained[0].adapter)
    res = before_after(pair, adapted, bars(), EventBuilder(calendar(), interval="1h"), settings,
                       BeforeAfterOptions(n_cutoffs=2, min_history=36, baselines=False))
    assert len(res.results) >= 2 and len(sampled) >= len(res.results)  # every Kronos row sampled
    assert {(s.temperature, s.clip, s.top_k, s.paths, s.seed) for s in sampled} == {(0.5, 2.5, 5, 2, 7)}


def test_lora_resumes_to_the_same_adapter(pair, tmp_path):
    data, builder = lora_data(), EventBuilder(calendar(), interval="1h")
    # warm-up of 2 steps: the first 3 learning rates do not depend on the total
    cfg = TrainConfig(steps=6, batch_size=4, lr=5e-3, warmup_steps=2, eval_every=3, val_windows=8, log_every=1,
                      save_every=3)
    straight = finetune_lora(pair, data, builder, cfg, tmp_path / "a", log=None)
    first = finetune_lora(pair, data, builder, TrainConfig(**{**cfg.__dict__, "steps": 3}), tmp_path / "b", log=None)
    assert [h["step"] for h in first.history] == [1, 2, 3]
    resumed = finetune_lora(pair, data, builder, cfg, tmp_path / "b", resume=True, log=None)
    assert [h["step"] for h in resumed.history] == [1, 2, 3, 4, 5, 6]
    assert (resumed.best_step, resumed.best_val, resumed.base_val) == (straight.best_step, straight.best_val,
                                                                       straight.base_val)
    assert straight.adapter.state.keys() == resumed.adapter.state.keys()
    for k, v in straight.adapter.state.items():
        assert torch.equal(v, resumed.adapter.state[k]), k
    torch.manual_seed(5)
    other = KronosPair(KronosTokenizer(TCFG), Kronos(PCFG), 64, "other")
    with pytest.raises(ResumeError, match="lora run on"):
        finetune_lora(other, data, builder, cfg, tmp_path / "b", resume=True, log=None)


def _fresh_peft(pair, folder):
    """PEFT's own loader on a fresh copy of the base predictor with an event embedding attached."""
    import copy

    from peft import PeftModel
    from safetensors.torch import load_file

    base = copy.deepcopy(pair.predictor)
    base.attach_event_embedding(CHANNELS)
    model = PeftModel.from_pretrained(base, str(folder))
    missing, unexpected = model.get_base_model().load_state_dict(load_file(str(folder / EVENT_FILE)), strict=False)
    assert not unexpected and not [k for k in missing if k.startswith("event_emb")]
    return model.eval()


def test_saved_folder_loads_with_peft(pair, trained):
    result, out, _ = trained
    ev = torch.randn(2, 24, CHANNELS)
    ours = apply_adapter(pair, out).predictor
    peft_model = _fresh_peft(pair, out)
    lora_b = [p for n, p in peft_model.named_parameters() if "lora_B" in n]
    assert len(lora_b) == 2 * PCFG.n_layers and any(p.abs().sum() > 0 for p in lora_b)  # trained weights loaded
    for x, y in zip(forward(ours, ev), forward(peft_model, ev)):  # merged vs peft's unmerged layers
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-4)
    merged = peft_model.merge_and_unload()
    for x, y in zip(forward(ours, ev), forward(merged, ev)):  # the same merge: identical
        assert torch.equal(x, y)
    assert not torch.equal(forward(ours, ev)[0], forward(pair.predictor)[0])  # the adapter changes the output


def _strings(value):
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


def _assert_no_paths(folder, *local):
    files = sorted(folder.glob("*.json"))
    assert files
    for f in files:
        text = f.read_text()
        for root in local:
            assert str(root) not in text, f"{f.name} names {root}"
        for s in _strings(json.loads(text)):
            assert not s.startswith(("/", "~")) and ":\\" not in s, f"{f.name}: {s}"


def test_saved_json_names_no_local_path(pair, trained):
    _, out, _ = trained
    assert pair.predictor_source.path.is_absolute()  # the base was loaded from a local folder
    _assert_no_paths(out, pair.predictor_source.path.parent)
    meta = adapter_metadata(out)
    assert meta["base_model"]["name"] == "tiny-test"


def _legacy_folder(adapter, pair, folder):
    """An adapter folder as version 1 wrote it: our adapter_config.json and one safetensors file with the
    LoRA tensors (peft names without prefix) and the event embedding."""
    from safetensors.torch import save_file

    folder.mkdir()
    state = {k.removeprefix("base_model.model."): v for k, v in adapter.state.items()}
    assert any(k.startswith("transformer.") for k in state)
    save_file(state, str(folder / ADAPTER_FILE))
    config = {"format": "kronos-studio-lora", "version": 1, "name": "old-one", "base_model": pair.provenance(),
              "lora": {"r": 8, "alpha": 16, "dropout": 0.0, "target_modules": adapter.settings.target_modules,
                       "library": "peft"},
              "events": {"schema": adapter.config["events"]["schema"], "channels": CHANNELS}, "training": {}}
    (folder / ADAPTER_CONFIG).write_text(json.dumps(config))
    return folder


def test_old_format_folder_still_loads(pair, trained, tmp_path):
    result, out, _ = trained
    old = _legacy_folder(result.adapter, pair, tmp_path / "old")
    adapter = load_adapter(old)
    assert adapter.name == "old-one" and adapter.settings == result.adapter.settings
    assert adapter_metadata(old)["base_model"]["predictor_revision"] == pair.provenance()["predictor_revision"]
    ev = torch.randn(2, 24, CHANNELS)
    for x, y in zip(forward(apply_adapter(pair, old).predictor, ev), forward(apply_adapter(pair, out).predictor, ev)):
        assert torch.equal(x, y)
    torch.manual_seed(5)
    with pytest.raises(AdapterError, match="choose its base model"):
        apply_adapter(KronosPair(KronosTokenizer(TCFG), Kronos(PCFG), 64, "other"), old)


def test_mismatched_adapter_files_are_refused(trained, tmp_path):
    import shutil

    _, out, _ = trained
    copy_dir = tmp_path / "copy"
    shutil.copytree(out, copy_dir)
    from safetensors.torch import load_file, save_file

    ev = load_file(str(copy_dir / EVENT_FILE))
    save_file({k: v + 1 for k, v in ev.items()}, str(copy_dir / EVENT_FILE))  # another save's event embedding
    with pytest.raises(AdapterError, match="do not match"):
        load_adapter(copy_dir)
    (copy_dir / META_FILE).unlink()
    with pytest.raises(AdapterError, match="PEFT adapter without"):
        load_adapter(copy_dir)
