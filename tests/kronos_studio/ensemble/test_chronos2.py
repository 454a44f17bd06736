"""The Chronos-2 member: its quantiles are the package's own, its paths follow them, it loads like Kronos
(folder, pre-filled Hugging Face cache, offline), all on a tiny Chronos-2 with random weights."""
from __future__ import annotations

import json
import shutil
import socket
import warnings

import huggingface_hub.constants
import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file, save_file
from scipy.special import ndtri
from testkit import downloads_tried, fill_hub_cache, random_bars, sampled

from kronos.checkpoints import CheckpointError
from kronos.config import BAR_COLUMNS
from kronos.settings import ForecastSettings
from kronos_studio.ensemble.chronos2 import (
    BUNDLED_CHRONOS2,
    COVARIATES,
    Chronos2Member,
    load_chronos2,
)
from kronos_studio.ensemble.members import CHEAP_MEMBER_PATHS
from kronos_studio.evaluation.walk_forward import WalkForward, walk_forward

chronos2 = pytest.importorskip("chronos.chronos2")

LEVELS = [0.01, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9,
          0.95, 0.99]  # Chronos-2's levels (amazon/chronos-2's config.json)
CONTEXT, PATCH = 64, 8
REPO, COMMIT = "amazon/chronos-2", "0123456789abcdef0123456789abcdef01234567"


def tiny_model(seed: int = 0):
    """A Chronos-2 with random weights; the output bias spreads the quantiles apart (0.5 x each level's
    normal score, in standardised units), which random weights alone would leave nearly equal and crossing."""
    cfg = chronos2.Chronos2CoreConfig(
        d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=2, dropout_rate=0.1,
        chronos_config=dict(context_length=CONTEXT, input_patch_size=PATCH, output_patch_size=PATCH,
                            input_patch_stride=PATCH, quantiles=LEVELS, use_reg_token=True, use_arcsinh=True,
                            max_output_patches=2))
    torch.manual_seed(seed)
    model = chronos2.Chronos2Model(cfg).eval()
    with torch.no_grad():
        bias = model.output_patch_embedding.output_layer.bias  # laid out (quantile, step)
        bias.copy_(torch.tensor(np.repeat(0.5 * ndtri(LEVELS), PATCH), dtype=bias.dtype))
    return model


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("chronos2-tiny")
    tiny_model().save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def member(folder):
    return Chronos2Member.load(folder, device="cpu", paths=300)


@pytest.fixture(scope="module")
def history():
    return random_bars(200, seed=3).assign(amount=lambda d: d["volume"] * d["close"])


def direct(pipeline, history, horizon, covariates=COVARIATES, levels=None):
    """The package's own call on the documented inputs, in price units."""
    tail = history.iloc[-CONTEXT:]
    item = {"target": np.log(tail["close"].to_numpy())}
    if covariates:
        item["past_covariates"] = {c: np.log1p(tail[c].to_numpy()) if c == "volume" else np.log(tail[c].to_numpy())
                                   for c in covariates}
    with warnings.catch_warnings():  # past the model's reach the package warns (and unrolls)
        warnings.simplefilter("ignore")
        q, _ = pipeline.predict_quantiles([item], prediction_length=horizon,
                                          quantile_levels=levels or pipeline.quantiles)
    return np.exp(q[0][0].numpy().astype(np.float64))


# --- (a) the quantiles are the package's own -------------------------------------------------------
@pytest.mark.parametrize("covariates", [COVARIATES, ()])
@pytest.mark.parametrize("horizon", [5, 20])  # one patch, and past the model's 16-step reach (unrolled)
def test_quantiles_equal_the_packages_own(folder, history, covariates, horizon):
    m = Chronos2Member.load(folder, device="cpu", covariates=covariates)
    levels, q = m.quantiles(history, horizon)
    assert levels.tolist() == LEVELS  # every level of the checkpoint
    assert q.shape == (horizon, len(LEVELS))
    np.testing.assert_array_equal(q, direct(m.pipeline, history, horizon, covariates))


def test_covariates_change_the_forecast_and_come_from_the_checkpoint(folder, member, history, tmp_path):
    assert member.covariates == COVARIATES  # the config records none: the documented default
    alone = Chronos2Member(member.pipeline, covariates=())
    assert not np.array_equal(member.quantiles(history, 5)[1], alone.quantiles(history, 5)[1])
    cfg = json.loads((folder / "config.json").read_text())
    shutil.copytree(folder, tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg | {"studio_past_covariates": ["high", "low"]}))
    assert Chronos2Member.load(tmp_path / "m", device="cpu").covariates == ("high", "low")
    with pytest.raises(ValueError, match="bar columns other than the close"):
        Chronos2Member(member.pipeline, covariates=("close",))


def test_lookback_is_at_most_the_context_length(member, history):
    assert member.context_length == CONTEXT
    assert Chronos2Member(member.pipeline, context_length=10_000).context_length == CONTEXT
    np.testing.assert_array_equal(member.quantiles(history, 6)[1], member.quantiles(history.iloc[-CONTEXT:], 6)[1])
    short = Chronos2Member(member.pipeline, context_length=32)
    np.testing.assert_array_equal(short.quantiles(history, 6)[1], member.quantiles(history.iloc[-32:], 6)[1])


# --- (b) paths --------------------------------------------------------------------------------------
def test_paths_are_coherent_positive_candles_reproducible_by_seed(member, history):
    future = pd.date_range(history["timestamp"].iloc[-1], periods=13, freq="5min")[1:]
    a = sampled(member, history, future, 12, 7)
    assert a.shape == (300, 12, len(BAR_COLUMNS)) and a.dtype == np.float32
    o, h, lo, c = (a[..., BAR_COLUMNS.index(k)] for k in ("open", "high", "low", "close"))
    assert np.isfinite(a).all() and (a > 0).all()
    assert (lo <= np.minimum(o, c)).all() and (np.maximum(o, c) <= h).all()
    assert np.allclose(o[:, 0], history["close"].iloc[-1]) and np.array_equal(o[:, 1:], c[:, :-1])
    np.testing.assert_array_equal(a, sampled(member, history, future, 12, 7))
    assert not np.array_equal(a, sampled(member, history, future, 12, 8))


def test_path_quantiles_follow_the_packages_quantiles(folder, history):
    m = Chronos2Member.load(folder, device="cpu", paths=20_000)
    closes = sampled(m, history, None, 12, 0)[..., BAR_COLUMNS.index("close")].astype(np.float64)
    q = direct(m.pipeline, history, 12, levels=[0.1, 0.5, 0.9])  # the package's interpolation
    assert (np.diff(q, axis=1) > 0).all()
    empirical = np.quantile(closes, [0.1, 0.5, 0.9], axis=0).T
    spread = q[:, 2] - q[:, 0]
    assert (np.abs(empirical - q) < 0.03 * spread[:, None]).all()


def test_batch_matches_single_calls_and_runs_in_the_walk_forward(member, history):
    hs = [history.iloc[:150], history.iloc[:180], history]
    many = member.sample_batch(hs, [None] * 3, ForecastSettings(horizon=8, seed=1), per_series_stream=False)
    for h, s, got in zip(hs, [1, 2, 3], many):  # the i-th draws from seed + i, as a walk-forward's cut-offs
        np.testing.assert_allclose(got.paths, sampled(member, h, None, 8, s), rtol=1e-5)
    alone = member.sample_batch(hs, [None] * 3, ForecastSettings(horizon=8, seed=1))
    np.testing.assert_allclose(alone[2].paths, sampled(member, hs[2], None, 8, 1), rtol=1e-5)  # as if alone
    result = walk_forward(member, history, ForecastSettings(horizon=8, lookback=member.context_length), None,
                          WalkForward(n_cutoffs=4))
    assert len(result.cutoffs) == 4 and result.n_paths == 300 and result.name.startswith("Chronos-2")


def test_history_without_amount_is_accepted(member, history):
    paths = sampled(member, history.drop(columns="amount"), None, 4, 0)
    assert np.isfinite(paths).all()


def test_describe(member, folder):
    d = member.describe()
    assert d["model"] == str(folder) and d["revision"].startswith("local:")
    assert d["package"] == "chronos-forecasting" and d["package_version"]
    assert d["context_length"] == CONTEXT and d["quantile_levels"] == LEVELS and d["paths"] == 300
    assert member.key == "chronos2" and member.name


# --- (c) loading --------------------------------------------------------------------------------------
@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


@pytest.fixture
def hub_unreachable(monkeypatch):
    """Online mode, but the Hub endpoint refuses connections (a closed port on this machine)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{port}")


def test_loads_from_a_prefilled_hub_cache_offline(folder, member, history, tmp_path, offline):
    fill_hub_cache(tmp_path, REPO, COMMIT, folder)
    m = Chronos2Member.load(REPO, cache_dir=tmp_path, device="cpu")
    assert m.describe()["model"] == REPO and m.describe()["revision"] == COMMIT
    np.testing.assert_array_equal(m.quantiles(history, 5)[1], member.quantiles(history, 5)[1])


def test_pinned_revision_in_the_cache_needs_no_hub(folder, tmp_path, hub_unreachable):
    fill_hub_cache(tmp_path, REPO, COMMIT, folder)
    _, src = load_chronos2(REPO, revision=COMMIT, cache_dir=tmp_path, device="cpu")
    assert src.revision == COMMIT


def test_offline_and_not_cached_says_what_to_do(tmp_path, offline):
    with pytest.raises(CheckpointError, match="not in the local Hugging Face cache.*Connect once"):
        load_chronos2(REPO, cache_dir=tmp_path, device="cpu")


def test_unreachable_hub_is_said_at_once(tmp_path, hub_unreachable, monkeypatch):
    """Said by the probe, before huggingface_hub is asked to download (its retries take about 25 s)."""
    tried = downloads_tried(monkeypatch)
    with pytest.raises(CheckpointError, match=r"cannot be reached \(no answer within"):
        load_chronos2(REPO, cache_dir=tmp_path, device="cpu")
    assert tried == []


def test_bad_references_are_refused_clearly(folder, random_model, tmp_path):
    with pytest.raises(CheckpointError, match="neither an existing folder nor a Hub repo id"):
        load_chronos2(str(tmp_path / "no" / "such" / "folder"))
    with pytest.raises(CheckpointError, match="does not hold config.json"):
        load_chronos2(tmp_path)
    with pytest.raises(CheckpointError, match="not a Chronos-2 checkpoint"):
        load_chronos2(random_model("tiny").folder / "predictor", device="cpu")  # a Kronos predictor
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    state = load_file(str(broken / "model.safetensors"))
    state.pop(sorted(state)[0])
    save_file(state, str(broken / "model.safetensors"))
    with pytest.raises(CheckpointError, match="does not match its config.json: missing"):
        load_chronos2(broken, device="cpu")


@pytest.mark.skipif(not (BUNDLED_CHRONOS2 / "model.safetensors").is_file(), reason="no bundled Chronos-2")
def test_bundled_model_loads_and_forecasts(history):
    m = Chronos2Member.load(BUNDLED_CHRONOS2, device="cpu", paths=50)
    assert m.covariates == ()  # trained on the close alone, and its config says so
    paths = sampled(m, history, None, 10, 0)
    assert paths.shape == (50, 10, 6) and (paths > 0).all()


# --- (d) in the ensemble: it joins when its weights are on this machine (issue 23) -------------------
@pytest.fixture
def hub_cache(monkeypatch, tmp_path):
    """An empty local Hugging Face cache (huggingface_hub reads its place at every lookup)."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("KRONOS_STUDIO_CHRONOS2", raising=False)
    return tmp_path / "hub"


def ensemble_forecast(chronos2_choice="auto"):
    from data_sources import Bars
    from kronos_studio.catalog import resolve
    from kronos_studio.forecasters import make_forecast

    bars = Bars.from_frame(random_bars(700, seed=5, freq="1D", start="2022-01-03"), source="file",
                           symbol="WALK", interval="1d", calendar="24/7")
    settings = ForecastSettings(horizon=5, paths=12, seed=3)
    forecaster = resolve("ensemble", bars, settings, chronos2=chronos2_choice, device="cpu")
    return forecaster, make_forecast(forecaster, bars, settings)


def test_chronos2_joins_the_ensemble_from_the_local_hub_cache_and_the_weighting_says_so(folder, hub_cache):
    fill_hub_cache(hub_cache, REPO, COMMIT, folder)
    forecaster, fc = ensemble_forecast()
    c2 = forecaster.members["chronos2"]
    assert c2.describe()["model"] == REPO and c2.describe()["revision"] == COMMIT
    assert fc.provenance["chronos2"] == f"Chronos-2 joins: {c2.name} ({COMMIT})"
    # The bundled meta-learner never saw Chronos-2: the stated rule, not its weights with one member dropped.
    assert fc.provenance["weighting"].startswith("equal weights: the bundled meta-learner was")
    assert fc.provenance["weights"]["chronos2"] == pytest.approx(1 / len(forecaster.members))
    assert fc.members["chronos2"].shape == (CHEAP_MEMBER_PATHS, 5, 6)  # its quantiles as paths: cheap to draw
    assert fc.paths.shape[0] == 12
    # Amazon released it on 2025-10-20: nothing later can be in its training data, and the mixture knows it.
    assert str(c2.training_period().seen_until.date()) == "2025-10-20"
    assert forecaster.training_period().seen_until >= c2.training_period().seen_until


def test_chronos2_stays_out_when_not_on_this_machine_or_switched_off(folder, hub_cache, monkeypatch):
    forecaster, fc = ensemble_forecast()  # an empty cache: no download is attempted by an ensemble forecast
    assert "chronos2" not in forecaster.members
    assert fc.provenance["chronos2"].startswith(f"Chronos-2 left out: {REPO} is not on this machine")
    assert not fc.provenance["weighting"].startswith("equal weights")  # the bundled meta-learner applies
    fill_hub_cache(hub_cache, REPO, COMMIT, folder)
    forecaster, fc = ensemble_forecast("off")
    assert "chronos2" not in forecaster.members and fc.provenance["chronos2"] == "Chronos-2 left out (off)"
    monkeypatch.setenv("KRONOS_STUDIO_CHRONOS2", str(folder))  # a folder of the user's, named once for all
    forecaster, _ = ensemble_forecast()
    assert forecaster.members["chronos2"].describe()["model"] == str(folder)
    monkeypatch.setenv("KRONOS_STUDIO_CHRONOS2", str(hub_cache / "moved-away"))
    forecaster, fc = ensemble_forecast()  # a folder that is gone: said as such, never offered as a download
    assert "chronos2" not in forecaster.members
    assert fc.provenance["chronos2"].endswith("moved-away ($KRONOS_STUDIO_CHRONOS2) is not a folder on this machine")
    monkeypatch.setenv("KRONOS_STUDIO_CHRONOS2", str(hub_cache / "not-a-checkpoint"))
    (hub_cache / "not-a-checkpoint").mkdir()
    with pytest.raises(CheckpointError, match="does not hold config.json"):
        ensemble_forecast()
