"""Strict loading from folders and from a pre-filled Hugging Face cache (no network)."""
from __future__ import annotations

import json
import shutil

import huggingface_hub.constants
import pytest
import torch
from safetensors.torch import load_file, save_file
from testkit import downloads_tried, fill_hub_cache

from kronos.checkpoints import CheckpointError, load_pair, load_predictor, load_tokenizer, save_checkpoint
from kronos.config import DEFAULT_BUNDLE_CONTEXT, OFFICIAL_MODELS, trained_context


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_missing_key_is_refused(random_model, tmp_path):
    folder = _copy(random_model("tiny").folder / "predictor", tmp_path / "p")
    state = load_file(str(folder / "model.safetensors"))
    del state["norm.weight"]
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"missing 1 keys.*norm\.weight"):
        load_predictor(folder, device="cpu")


def test_wrong_shape_and_extra_key_are_refused(random_model, tmp_path):
    folder = _copy(random_model("tiny").folder / "predictor", tmp_path / "p")
    state = load_file(str(folder / "model.safetensors"))
    state["head.proj_s1.bias"] = torch.zeros(7)
    state["surprise.weight"] = torch.zeros(1)
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"unexpected 1 keys.*wrong shapes.*head\.proj_s1\.bias"):
        load_predictor(folder, device="cpu")


def test_tokenizer_as_predictor_is_refused(random_model):
    with pytest.raises(CheckpointError, match="missing keys"):
        load_predictor(random_model("tiny").folder / "tokenizer", device="cpu")


def test_tokenizer_group_size_must_match_buffer(random_model, tmp_path):
    folder = _copy(random_model("mini").folder / "tokenizer", tmp_path / "t")  # Tokenizer-2k layout: group_size 5
    cfg = json.loads((folder / "config.json").read_text())
    cfg["group_size"] = 4
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="group_basis"):
        load_tokenizer(folder, device="cpu")


def test_unknown_reference_and_empty_folder(tmp_path):
    with pytest.raises(CheckpointError, match="neither an existing folder nor a Hub repo id"):
        load_predictor(str(tmp_path / "nope"), device="cpu")
    with pytest.raises(CheckpointError, match="does not hold config.json"):
        load_predictor(tmp_path, device="cpu")
    with pytest.raises(CheckpointError, match="its tokenizer is unknown"):
        load_pair("someone/some-model", device="cpu")


def test_round_trip_save_and_load(random_model, tmp_path):
    pair = random_model("tiny").ours(64)
    save_checkpoint(pair.predictor, tmp_path / "predictor")
    again, src = load_predictor(tmp_path / "predictor", device="cpu")
    for (k, a), (_, b) in zip(pair.predictor.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), k
    assert src.revision.startswith("local:")
    assert json.loads((tmp_path / "predictor" / "config.json").read_text()) == pair.predictor.config.to_dict()


def test_weights_stored_in_another_dtype_load_as_the_models_own(random_model, tmp_path):
    """A bf16 file gives the model's own fp32 weights, the file's values exactly."""
    folder = _copy(random_model("tiny").folder / "predictor", tmp_path / "p")
    state = load_file(str(folder / "model.safetensors"))
    save_file({k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in state.items()},
              str(folder / "model.safetensors"))
    model, _ = load_predictor(folder, device="cpu")
    loaded = model.state_dict()
    for k, v in state.items():
        assert loaded[k].dtype == v.dtype, k
        expected = v.to(torch.bfloat16).to(v.dtype) if v.is_floating_point() else v
        assert torch.equal(loaded[k], expected), k


def test_loading_skips_the_random_initialisation_in_its_own_thread_only():
    """The load builds the model without drawing its random initial values (the file replaces them all),
    and a model built meanwhile in another thread is initialised as usual."""
    import threading

    from kronos.checkpoints import _NoRandomInit
    from kronos.config import OFFICIAL_CONFIGS
    from kronos.model import Kronos

    config = OFFICIAL_CONFIGS["mini"]
    torch.manual_seed(0)
    usual = Kronos(config).state_dict()
    built = {}
    with _NoRandomInit():
        state = torch.get_rng_state()
        Kronos(config)
        assert torch.equal(torch.get_rng_state(), state)  # not one random number drawn

        def elsewhere():
            torch.manual_seed(0)
            built["model"] = Kronos(config)

        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
    for k, v in built["model"].state_dict().items():
        assert torch.equal(v, usual[k]), k


def test_context_from_bundle_json_argument_or_assumed(random_model, tmp_path):
    """A folder's bundle.json names its context; without one, a context passed is taken, and with neither
    the default is taken and flagged as a guess."""
    folder = tmp_path / "model"
    shutil.copytree(random_model("tiny").folder, folder, ignore=shutil.ignore_patterns("bundle.json"))
    assumed = load_pair(folder, device="cpu")
    assert (assumed.context, assumed.context_assumed) == (DEFAULT_BUNDLE_CONTEXT, True)
    assert trained_context(folder) is None
    given = load_pair(folder, context=96, device="cpu")
    assert (given.context, given.context_assumed) == (96, False)
    (folder / "bundle.json").write_text(json.dumps({"context": 64, "name": "tiny"}))
    known = load_pair(folder, device="cpu")
    assert (known.context, known.context_assumed, trained_context(folder)) == (64, False, 64)
    assert trained_context("mini") == trained_context(OFFICIAL_MODELS["mini"].repo_id) == 2048


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def test_official_name_loads_from_prefilled_hub_cache(oracle, tmp_path, offline):
    o = oracle("mini")
    spec = OFFICIAL_MODELS["mini"]
    fill_hub_cache(tmp_path, spec.repo_id, spec.revision, o.folder / "predictor")
    fill_hub_cache(tmp_path, spec.tokenizer_repo_id, spec.tokenizer_revision, o.folder / "tokenizer")
    pair = load_pair("mini", cache_dir=tmp_path, device="cpu")
    assert pair.context == 2048
    prov = pair.provenance()
    assert prov["predictor"] == "NeoQuasar/Kronos-mini" and prov["predictor_revision"] == spec.revision
    assert prov["tokenizer_revision"] == spec.tokenizer_revision
    ref = o.official_predictor.state_dict()
    assert all(torch.equal(v, ref[k]) for k, v in pair.predictor.state_dict().items())


def test_offline_and_not_cached_says_what_to_do(tmp_path, offline):
    with pytest.raises(CheckpointError, match="not in the local Hugging Face cache"):
        load_pair("small", cache_dir=tmp_path, device="cpu")


@pytest.fixture
def hub_unreachable(monkeypatch):
    """Online mode, but the Hub endpoint refuses connections (a closed port on this machine)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free now, closed once the socket is
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{port}")


def test_unreachable_hub_and_empty_cache_is_said_at_once(tmp_path, hub_unreachable, monkeypatch):
    """Said by the probe, before huggingface_hub is asked to download (its retries take about 25 s)."""
    tried = downloads_tried(monkeypatch)
    with pytest.raises(CheckpointError, match=r"cannot be reached \(no answer within"):
        load_pair("mini", cache_dir=tmp_path, device="cpu")
    assert tried == []


def test_pinned_revision_in_the_cache_loads_without_the_hub(random_model, tmp_path, hub_unreachable):
    o = random_model("mini")
    spec = OFFICIAL_MODELS["mini"]
    fill_hub_cache(tmp_path, spec.repo_id, spec.revision, o.folder / "predictor")
    fill_hub_cache(tmp_path, spec.tokenizer_repo_id, spec.tokenizer_revision, o.folder / "tokenizer")
    pair = load_pair("mini", cache_dir=tmp_path, device="cpu")
    assert pair.provenance()["predictor_revision"] == spec.revision
