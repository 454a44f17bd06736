"""``kronos train``'s data and training options are generated from the knobs of the desk's ``TrainingData`` and
``TrainingOptions`` (``kronos train lora``'s cut times and calendar switch from ``FineTuneRequest``'s): the same
flags as before, the dataclasses' defaults, and a bad value refused by the dataclass in one line naming the flag."""
from __future__ import annotations

import dataclasses

import pytest

from kronos.settings import knob, knobs
from kronos_studio.cli import lora, training_options
from kronos_studio.cli.common import options_of
from kronos_studio.cli.errors import flag, knob_flag
from kronos_studio.cli.main import build_parser, main
from kronos_studio.desk import FineTuneRequest
from kronos_studio.desk.pretrain import TrainingData, TrainingOptions

TRAIN = ["train", "tokenizer", "--out", "run"]


@pytest.mark.parametrize("command", ["tokenizer", "predictor", "lora", "ensemble"])
def test_every_train_command_renders_its_help(command, capsys):
    # a knob's help with a '%' (FineTunePlan's warm-up: '5% of the steps') crashed argparse's help of train lora
    with pytest.raises(SystemExit) as done:
        main(["train", command, "--help"])
    assert done.value.code == 0
    assert "usage: kronos train" in capsys.readouterr().out


@pytest.mark.parametrize("cls", [TrainingData, TrainingOptions])
def test_not_given_the_options_are_the_dataclasses_defaults(cls):
    args = build_parser().parse_args(TRAIN)
    assert options_of(cls, args, **({"files": (), "samples": None} if cls is TrainingData else {})) == cls()


def test_each_knob_is_an_option_read_into_its_field():
    given = {"window": 64, "lookback": 40, "val_start": "2024-01-01", "val_fraction": 0.2, "stride": 3,
             "steps": 7, "batch_size": 5, "lr": 0.01, "weight_decay": 0.05, "warmup": 2, "grad_clip": 1.5,
             "seed": 9, "eval_every": 3, "save_every": 4, "time_limit": 60.0}
    assert set(given) == set(knobs(TrainingData)) | set(knobs(TrainingOptions))  # every knob is asked here
    argv = [*TRAIN, "--data", "a.csv", "b.csv", "--samples"]
    for name, value in given.items():
        argv += [knob_flag(name, None), str(value)]
    args = build_parser().parse_args(argv)
    data = options_of(TrainingData, args, files=tuple(args.data), samples=())
    options = options_of(TrainingOptions, args)
    assert data.files == ("a.csv", "b.csv") and args.samples == []
    assert {**{f: getattr(data, f) for f in knobs(TrainingData)},
            **{f: getattr(options, f) for f in knobs(TrainingOptions)}} == given


@pytest.mark.parametrize("argv, flag", [
    (["--val-fraction", "1.5"], "--val-fraction"),
    (["--window", "64", "--lookback", "100"], "--lookback"),
    (["--seed", "-1"], "--seed"),
    (["--weight-decay", "-0.1"], "--weight-decay"),
])
def test_a_bad_value_is_refused_in_one_line_naming_its_flag(argv, flag, tmp_path, capsys):
    csv = tmp_path / "bars.csv"
    csv.write_text("timestamp,open,high,low,close\n")
    assert main(["train", "tokenizer", "--data", str(csv), "--out", str(tmp_path / "run"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and flag in err


class Asked(Exception):
    pass


def test_train_lora_hands_its_cut_times_and_calendar_switch_to_the_request(monkeypatch):
    asked = []

    class Desk:
        def fine_tune(self, request, **_):
            asked.append(request)
            raise Asked

    monkeypatch.setattr(lora, "cli_desk", lambda args: (Desk(), []))
    base = ["train", "lora", "--data", "a.csv", "--out", "ad", "--samples", "x"]
    with pytest.raises(Asked):
        lora.run_train_lora(build_parser().parse_args(
            [*base, "--val-start", "2024-01-01", "--test-start", "2024-06-01", "--no-bundled-calendar"]))
    with pytest.raises(Asked):
        lora.run_train_lora(build_parser().parse_args(base))
    given, default = asked
    assert (given.val_start, given.test_start, given.bundled_calendar) == ("2024-01-01", "2024-06-01", False)
    fields = {f.name: f.default for f in dataclasses.fields(FineTuneRequest)}
    assert (default.val_start, default.test_start, default.bundled_calendar) == \
        (fields["val_start"], fields["test_start"], fields["bundled_calendar"])
    assert given.samples == ("x",) and given.data[0].file == "a.csv" and given.out == "ad"


@pytest.mark.parametrize("setting, value, words", [
    ("test_start", None, "--test-start"), ("bundled_calendar", False, "--no-bundled-calendar"),
    ("val_fraction", None, "--val-fraction"), ("grad_clip", None, "--grad-clip"),
])
def test_a_message_names_these_settings_by_their_generated_flags(setting, value, words):
    assert flag(setting, value) == words


def test_train_lora_without_series_is_refused_by_the_request_before_a_model_loads(monkeypatch, capsys):
    monkeypatch.setattr(lora, "cli_desk", lambda args: pytest.fail("a model was loaded"))
    assert main(["train", "lora", "--out", "ad"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no series to train on" in err and "--data" in err and "--samples" in err


def test_a_toy_training_option_with_its_knob_reaches_the_command_line_with_no_other_edit(monkeypatch):
    @dataclasses.dataclass(frozen=True)
    class Options(TrainingOptions):
        toy_option: int = knob(7, label="Toy", help="a test's option")

    monkeypatch.setattr(training_options, "TrainingOptions", Options)
    assert options_of(Options, build_parser().parse_args(TRAIN)).toy_option == 7
    assert options_of(Options, build_parser().parse_args([*TRAIN, "--toy-option", "3"])).toy_option == 3
