"""The typed ``ModelChoice``: the model reference with the resolver's options travels whole from a face to the
identity and the registry (no untyped ``**choices``), and the command line's options are generated from its knobs
under their old names."""
from __future__ import annotations

from testkit import random_bars

from data_sources import Bars
from kronos_studio.catalog.choice import ModelChoice
from kronos_studio.catalog.identity import model_identity
from kronos_studio.cli.main import build_parser
from kronos_studio.cli.models import model_choice


def test_the_command_line_options_keep_their_names_and_make_one_choice():
    args = build_parser().parse_args(["forecast", "x.csv", "--out", "o.csv", "--horizon", "3", "--model", "ensemble",
                                      "--ensemble", "--chronos2", "off", "--meta", "some/meta"])
    assert model_choice(args) == ModelChoice("ensemble", ensemble=True, meta="some/meta", chronos2="off")
    plain = build_parser().parse_args(["risk", "x.csv", "--horizon", "1"])
    assert model_choice(plain) == ModelChoice()  # the defaults: no ensemble, the bundled meta-learner, Chronos-2 auto
    # a command that offers only some of them (kronos train ensemble: --chronos2) keeps the others' defaults
    fit = build_parser().parse_args(["train", "ensemble", "x.csv", "--horizon", "2", "--chronos2", "off"])
    assert model_choice(fit) == ModelChoice(chronos2="off")


def test_a_reference_is_a_choice_with_the_defaults_and_the_options_reach_the_identity(tmp_path):
    from kronos_studio.ensemble.chronos2 import ensemble_state

    bars = Bars.from_frame(random_bars(200, seed=1), source="file", symbol="X", interval="1h", calendar="24/7")
    assert ModelChoice.of("garch") == ModelChoice("garch") and ModelChoice.of(ModelChoice("x")) == ModelChoice("x")
    assert model_identity("garch", bars) == model_identity(ModelChoice("garch"), bars)
    plain, mixed = model_identity(ModelChoice(None), bars), model_identity(ModelChoice(None, ensemble=True), bars)
    assert "ensemble" not in plain and mixed["ensemble"]  # the switch is read, not dropped on the way
    assert model_identity(ModelChoice("ensemble", chronos2="off"), bars)["chronos2"] == ensemble_state("off")
    (tmp_path / "weights.json").write_text("{}")
    assert model_identity(ModelChoice("ensemble", meta=str(tmp_path)), bars)["meta"] != mixed["meta"]
