"""Training pipeline: leakage-free windows, time split, loss goes down, exact resume, checkpoints that
load strictly in our code and in the official code, and the ``kronos train`` CLI."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import safetensors.torch
import torch
from safetensors.torch import load_file
from testkit import random_bars, require_oracle

import kronos.checkpoints
from kronos.checkpoints import load_pair, load_predictor, load_tokenizer, save_checkpoint
from kronos.config import KronosConfig, TokenizerConfig
from kronos_studio.cli.main import main as cli_main
from kronos_studio.training import state as train_state
from kronos_studio.training.datasets import (
    Series,
    TimeSplit,
    WindowSet,
    build_train_data,
    fraction_split,
    normalise_window,
    split_series,
)
from kronos_studio.training.loop import TrainConfig
from kronos_studio.training.pretrain import (
    new_predictor,
    new_tokenizer,
    predictor_loss,
    tokenizer_loss,
    train_predictor,
    train_tokenizer,
)
from kronos_studio.training.state import STATE_FILE, ResumeError

TOK = TokenizerConfig(d_model=16, n_heads=2, ff_dim=32, n_enc_layers=2, n_dec_layers=2)
PRED = KronosConfig(n_layers=1, d_model=16, n_heads=2, ff_dim=32, ffn_dropout_p=0.1, resid_dropout_p=0.1,
                    token_dropout_p=0.1, attn_dropout_p=0.1)


def series(n=400, seed=0, freq="1h", name="s") -> Series:
    from kronos.pipeline import bars_frame
    return Series(name, freq, bars_frame(random_bars(n, seed, freq=freq)))


def small_data(window=24, lookback=16):
    s = [series(400, 0, name="a"), series(300, 1, name="b")]
    split = TimeSplit(s[0].frame["timestamp"].iloc[300])
    return build_train_data(s, split, window, lookback, stride=1, val_stride=4)


def fast_cfg(**kw) -> TrainConfig:
    base = dict(steps=6, batch_size=8, lr=3e-3, warmup_steps=2, eval_every=3, save_every=3, log_every=1,
                val_windows=16, seed=7)
    base.update(kw)
    return TrainConfig(**base)


# --- leakage-safe normalisation -----------------------------------------------------------------
def test_window_stats_ignore_the_forecast_part():
    rng = np.random.default_rng(0)
    x = rng.normal(100, 5, size=(40, 6)).astype(np.float32)
    y = x.copy()
    y[30:] = y[30:] * 10 + 1000  # perturb only the part to be forecast
    xn, mu_x, sd_x = normalise_window(x, lookback=30)
    yn, mu_y, sd_y = normalise_window(y, lookback=30)
    np.testing.assert_array_equal(mu_x, mu_y)
    np.testing.assert_array_equal(sd_x, sd_y)
    np.testing.assert_array_equal(xn[:30], yn[:30])
    assert not np.array_equal(xn[30:], yn[30:])
    # the statistics are exactly those of the lookback rows
    np.testing.assert_allclose(mu_x, x[:30].mean(0), rtol=1e-5)


def test_window_set_inputs_unchanged_when_future_bars_change():
    s = series(200)
    ws = WindowSet([s], window=32, lookback=24)
    x0, _ = ws.get(0, 50)
    s.frame.loc[50 + 24:, ["open", "high", "low", "close"]] *= 3.0
    ws2 = WindowSet([s], window=32, lookback=24)
    x1, _ = ws2.get(0, 50)
    np.testing.assert_array_equal(x0[:24], x1[:24])
    assert not np.array_equal(x0[24:], x1[24:])


# --- time split ---------------------------------------------------------------------------------
def test_time_split_has_no_overlap():
    data = small_data()
    cut = pd.Timestamp(data.split.val_start)
    train_last = max(data.train.bar_times(i, s)[-1] for i, s in data.train.all_windows())
    val_first = min(data.val.bar_times(i, s)[0] for i, s in data.val.all_windows())
    assert train_last < cut <= val_first
    train_bars = {t for i, s in data.train.all_windows() for t in data.train.bar_times(i, s)}
    val_bars = {t for i, s in data.val.all_windows() for t in data.val.bar_times(i, s)}
    assert not train_bars & val_bars


def test_split_segments_partition_the_series_in_time_order():
    s = series(500)
    ts = s.frame["timestamp"]
    parts = split_series(s, TimeSplit(ts.iloc[300], ts.iloc[400]))
    assert [len(parts[k]) for k in ("train", "val", "test")] == [300, 100, 100]
    assert parts["train"].frame["timestamp"].max() < parts["val"].frame["timestamp"].min()
    assert parts["val"].frame["timestamp"].max() < parts["test"].frame["timestamp"].min()
    sp = fraction_split(s, 0.2, 0.1)
    parts = split_series(s, sp)
    assert [len(parts[k]) for k in ("train", "val", "test")] == [350, 100, 50]


def test_batches_depend_only_on_seed_and_step():
    data = small_data()
    assert data.train.sample(8, 3, 11) == data.train.sample(8, 3, 11)
    assert data.train.sample(8, 3, 11) != data.train.sample(8, 3, 12)


# --- losses decrease ----------------------------------------------------------------------------
def _fixed_loss(loss_fn, data):
    x, st = data.train.batch(data.train.sample(16, 99, 0), "cpu")
    with torch.no_grad():
        return loss_fn(x, st)[0].item()


def test_tokenizer_training_lowers_the_loss(tmp_path):
    data = small_data()
    tok = new_tokenizer(TOK, 0)
    tok.eval()
    before = _fixed_loss(lambda x, s: tokenizer_loss(tok, x), data)
    result = train_tokenizer(tok, data, fast_cfg(steps=40, lr=5e-3), tmp_path, device="cpu", log=None)
    tok.eval()
    after = _fixed_loss(lambda x, s: tokenizer_loss(tok, x), data)
    assert result.step == 40 and after < before - 0.05
    assert result.best_val is not None and result.history[-1]["val_recon"] > 0


def test_predictor_training_lowers_the_loss(tmp_path):
    data = small_data()
    tok = new_tokenizer(TOK, 0).eval()
    pred = new_predictor(PRED, 0)
    pred.eval()
    before = _fixed_loss(lambda x, s: predictor_loss(pred, tok, x, s), data)
    train_predictor(pred, tok, data, fast_cfg(steps=40, lr=5e-3), tmp_path, device="cpu", log=None)
    pred.eval()
    after = _fixed_loss(lambda x, s: predictor_loss(pred, tok, x, s), data)
    assert after < before - 0.2


# --- resume -------------------------------------------------------------------------------------
def test_resume_continues_from_the_saved_step_with_identical_results(tmp_path):
    data = small_data()
    tok = new_tokenizer(TOK, 0).eval()
    straight = new_predictor(PRED, 1)
    r1 = train_predictor(straight, tok, data, fast_cfg(), tmp_path / "a", device="cpu", log=None)

    first = new_predictor(PRED, 1)
    r2 = train_predictor(first, tok, data, fast_cfg(steps=3), tmp_path / "b", device="cpu", log=None)
    assert r2.step == 3
    resumed = new_predictor(PRED, 5)  # different init: everything must come from the saved state
    r3 = train_predictor(resumed, tok, data, fast_cfg(), tmp_path / "b", device="cpu", log=None)
    assert r3.step == 6 and [h["step"] for h in r3.history] == [1, 2, 3, 4, 5, 6]
    for (k, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)
    assert r1.history[-1]["train_loss"] == r3.history[-1]["train_loss"]
    doc = json.loads((tmp_path / "b" / STATE_FILE).read_text())  # the resume state: JSON + safetensors, no pickle
    assert sorted(f.name for f in (tmp_path / "b").glob("train_state*")) == sorted([STATE_FILE, doc["tensors"]])
    assert doc["step"] == 6 and doc["optimizer"]["param_groups"][0]["betas"] == [0.9, 0.95]


def _write_half_then_fail(tensors, filename, metadata=None):
    """safetensors' save_file as a crash would leave it: half the bytes written, then an error."""
    blob = safetensors.torch.save(tensors, metadata)
    Path(filename).write_bytes(blob[:len(blob) // 2])
    raise OSError("disk full")


@pytest.mark.parametrize("part", ["tensors", "json"])
def test_a_failed_state_write_keeps_the_previous_state(tmp_path, monkeypatch, part):
    data = small_data()
    tok = new_tokenizer(TOK, 0).eval()
    straight = new_predictor(PRED, 1)
    train_predictor(straight, tok, data, fast_cfg(), tmp_path / "a", device="cpu", log=None)
    run = tmp_path / "b"
    train_predictor(new_predictor(PRED, 1), tok, data, fast_cfg(steps=3), run, device="cpu", log=None)
    doc = (run / STATE_FILE).read_bytes()
    tensors = run / json.loads(doc)["tensors"]
    saved = tensors.read_bytes()
    if part == "tensors":
        monkeypatch.setattr(train_state, "save_file", _write_half_then_fail)
    else:
        write_text = Path.write_text

        def half_json(self, text, *args, **kwargs):
            if self.name.startswith(f".{STATE_FILE}"):
                write_text(self, text[:len(text) // 2], *args, **kwargs)
                raise OSError("disk full")
            return write_text(self, text, *args, **kwargs)

        monkeypatch.setattr(Path, "write_text", half_json)
    with pytest.raises(OSError, match="disk full"):  # the save at step 6 fails midway
        train_predictor(new_predictor(PRED, 5), tok, data, fast_cfg(), run, device="cpu", log=None)
    monkeypatch.undo()
    assert (run / STATE_FILE).read_bytes() == doc and tensors.read_bytes() == saved  # step 3, intact
    resumed = new_predictor(PRED, 5)
    r = train_predictor(resumed, tok, data, fast_cfg(), run, device="cpu", log=None)
    assert r.step == 6 and [h["step"] for h in r.history] == [1, 2, 3, 4, 5, 6]
    for (k, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)
    assert len(list(run.glob("train_state-*.safetensors"))) == 1 and not list(run.glob(".*.tmp"))


def test_a_state_that_is_not_this_runs_is_refused(tmp_path):
    data = small_data()
    cfg = fast_cfg(steps=3)
    for name, seed in (("a", 0), ("b", 1)):
        train_tokenizer(new_tokenizer(TOK, seed), data, cfg, tmp_path / name, device="cpu", log=None)
    a_doc = json.loads((tmp_path / "a" / STATE_FILE).read_text())
    b_doc = json.loads((tmp_path / "b" / STATE_FILE).read_text())
    shutil.copyfile(tmp_path / "b" / b_doc["tensors"], tmp_path / "a" / a_doc["tensors"])
    with pytest.raises(ResumeError, match="does not belong"):
        train_tokenizer(new_tokenizer(TOK, 0), data, cfg, tmp_path / "a", device="cpu", log=None)
    (tmp_path / "a" / a_doc["tensors"]).unlink()
    with pytest.raises(ResumeError, match="missing"):
        train_tokenizer(new_tokenizer(TOK, 0), data, cfg, tmp_path / "a", device="cpu", log=None)
    tok = new_tokenizer(TOK, 0).eval()
    with pytest.raises(ResumeError, match="holds a tokenizer run, not a predictor run"):
        train_predictor(new_predictor(PRED, 0), tok, data, cfg, tmp_path / "b", device="cpu", log=None)
    old = tmp_path / "old"
    old.mkdir()
    (old / "train_state.pt").write_bytes(b"a pickle of an earlier version")
    with pytest.raises(ResumeError, match="earlier version"):
        train_tokenizer(new_tokenizer(TOK, 0), data, cfg, old, device="cpu", log=None)
    r = train_tokenizer(new_tokenizer(TOK, 0), data, cfg, old, resume=False, device="cpu", log=None)
    assert r.step == 3 and not (old / "train_state.pt").exists() and (old / STATE_FILE).is_file()


def test_a_failed_checkpoint_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    first = new_tokenizer(TOK, 0)
    save_checkpoint(first, tmp_path)
    saved = (tmp_path / "model.safetensors").read_bytes()
    monkeypatch.setattr(kronos.checkpoints, "save_file", _write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(new_tokenizer(TOK, 1), tmp_path)
    monkeypatch.undo()
    assert (tmp_path / "model.safetensors").read_bytes() == saved
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    loaded, _ = load_tokenizer(tmp_path, device="cpu")
    for k, v in first.state_dict().items():
        assert torch.equal(loaded.state_dict()[k].cpu(), v), k


def test_time_limit_stops_resumably(tmp_path):
    data = small_data()
    tok = new_tokenizer(TOK, 0)
    r = train_tokenizer(tok, data, fast_cfg(steps=50, time_limit_s=0.0), tmp_path, device="cpu", log=None)
    assert not r.finished and r.step == 0 and (tmp_path / STATE_FILE).is_file()


# --- checkpoints load strictly, ours and official ----------------------------------------------
def test_checkpoints_load_strictly_in_ours_and_the_official_code(tmp_path):
    official = require_oracle()
    data = small_data()
    tok = new_tokenizer(TOK, 0)
    train_tokenizer(tok, data, fast_cfg(steps=3), tmp_path / "tok", device="cpu", log=None)
    pred = new_predictor(PRED, 0)
    train_predictor(pred, tok.eval(), data, fast_cfg(steps=3), tmp_path / "pred", device="cpu", log=None)
    for folder in (tmp_path / "tok", tmp_path / "tok" / "last", tmp_path / "pred", tmp_path / "pred" / "last"):
        assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
    our_tok, _ = load_tokenizer(tmp_path / "tok", device="cpu")
    our_pred, _ = load_predictor(tmp_path / "pred", device="cpu")

    def official_module(cls, folder):
        cfg = json.loads((folder / "config.json").read_text())
        m = cls(**cfg)
        m.load_state_dict(load_file(str(folder / "model.safetensors")), strict=True)
        return m.eval()

    off_tok = official_module(official.KronosTokenizer, tmp_path / "tok")
    off_pred = official_module(official.Kronos, tmp_path / "pred")
    via_hub = official.Kronos.from_pretrained(str(tmp_path / "pred")).eval()
    x, st = data.val.batch(data.val.sample(2, 0, 0) if len(data.val) else data.train.sample(2, 0, 0), "cpu")
    with torch.no_grad():
        ours_ids = our_tok.encode(x)
        off_ids = off_tok.encode(x, half=True)
        assert torch.equal(ours_ids[0], off_ids[0]) and torch.equal(ours_ids[1], off_ids[1])
        s1, s2 = ours_ids
        l1, _ = our_pred(s1, s2, st)
        o1, _ = off_pred.decode_s1(s1, s2, st)
        h1, _ = via_hub.decode_s1(s1, s2, st)
    torch.testing.assert_close(l1, o1, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(h1, o1, rtol=0, atol=0)


# --- CLI ----------------------------------------------------------------------------------------
def test_cli_trains_tokenizer_then_predictor_into_a_usable_bundle(tmp_path, capsys):
    csv = tmp_path / "bars.csv"
    random_bars(300, 3, freq="1h").to_csv(csv, index=False)
    common = ["--data", str(csv), "--window", "24", "--steps", "4", "--batch-size", "4", "--eval-every", "2",
              "--device", "cpu", "--quiet"]
    assert cli_main(["train", "tokenizer", *common, "--out", str(tmp_path / "tok"), "--d-model", "16",
                     "--n-heads", "2", "--ff-dim", "32", "--layers", "2"]) == 0
    assert cli_main(["train", "predictor", *common, "--out", str(tmp_path / "pred"), "--tokenizer",
                     str(tmp_path / "tok"), "--d-model", "16", "--n-heads", "2", "--ff-dim", "32",
                     "--n-layers", "1", "--bundle", str(tmp_path / "bundle")]) == 0
    pair = load_pair(tmp_path / "bundle", device="cpu")
    assert pair.context == 24
    from kronos.pipeline import KronosPipeline
    fc = KronosPipeline(pair).predict(random_bars(60, 4, freq="1h"), 3, paths=2, seed=0)
    assert fc.paths.shape == (2, 3, 6) and np.isfinite(fc.paths).all()
    # fine-tuning the result uses the same path: --init a bundle folder
    assert cli_main(["train", "predictor", *common, "--out", str(tmp_path / "ft"), "--init",
                     str(tmp_path / "bundle")]) == 0
    assert (tmp_path / "ft" / "model.safetensors").is_file()


def test_cli_user_errors_are_one_line_exit_2(tmp_path, capsys):
    assert cli_main(["train", "tokenizer", "--out", str(tmp_path / "x")]) == 2
    assert "no training data" in capsys.readouterr().err
    assert cli_main(["train", "tokenizer", "--data", str(tmp_path / "missing.csv"), "--out", str(tmp_path)]) == 2
    csv = tmp_path / "short.csv"
    random_bars(20, 0).to_csv(csv, index=False)
    assert cli_main(["train", "tokenizer", "--data", str(csv), "--out", str(tmp_path / "y"), "--window", "64"]) == 2
    err = capsys.readouterr().err
    assert "no training window" in err and len(err.strip().splitlines()) == 2
    assert cli_main(["train", "predictor", "--data", str(csv), "--out", str(tmp_path / "z"), "--window", "8"]) == 2
    assert "--tokenizer" in capsys.readouterr().err
