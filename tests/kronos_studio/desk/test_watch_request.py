"""A watch's request from its knobs: where a tick's forecasts run is ``kronos batch``'s ``Engine`` (issue 64)."""
from __future__ import annotations

import pytest
from watch_kit import synthetic_folder

from kronos.errors import InputError, UserError
from kronos_studio.cli.main import build_parser, main
from kronos_studio.cli.watch import watch_request
from kronos_studio.desk import Engine, WatchRequest


def test_kronos_watch_takes_kronos_batchs_engine_options_ray_address_included(tmp_path):
    folder = synthetic_folder(tmp_path / "list", end="2025-09-30")
    args = build_parser().parse_args(["watch", str(folder), "--horizon", "3", "--engine", "ray",
                                      "--ray-address", "ray://head:10001", "--workers", "2"])
    request = watch_request(args)
    assert request.engine == Engine("ray", "ray://head:10001", 2)
    assert WatchRequest.from_json(request.to_json()).engine == request.engine  # kept as the ledger keeps it


def test_workers_without_the_ray_engine_are_refused_as_kronos_batch_refuses_them(tmp_path):
    folder = synthetic_folder(tmp_path / "list", end="2025-09-30")
    args = build_parser().parse_args(["watch", str(folder), "--horizon", "3", "--workers", "2"])
    with pytest.raises(InputError, match="local engine does not use"):
        watch_request(args)


def test_a_watch_kept_before_the_engine_was_one_value_reads_back(tmp_path):
    folder = synthetic_folder(tmp_path / "list", end="2025-09-30")
    args = build_parser().parse_args(["watch", str(folder), "--horizon", "3"])
    kept = {**watch_request(args).to_json(), "engine": "ray", "workers": 3}
    assert "ray_address" not in kept  # none given: the key a watch had before the address existed
    assert WatchRequest.from_json(kept).engine == Engine("ray", None, 3)


def test_a_replay_label_longer_than_the_ledger_keeps_is_refused_not_cut(tmp_path, monkeypatch, capsys):
    """The service refused a replay_name past 64 characters, the command line cut it silently: both refuse now."""
    monkeypatch.setenv("KRONOS_STUDIO_CACHE", str(tmp_path / "storage"))
    monkeypatch.setenv("KRONOS_STUDIO_DB", f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    folder = synthetic_folder(tmp_path / "list")
    code = main(["watch", str(folder), "--horizon", "3", "--paths", "4", "--replay-from", "2026-05-07",
                 "--replay-name", "r" * 65])
    assert code == 2
    assert "--replay-name" in capsys.readouterr().err


@pytest.mark.parametrize("options, named", [(["--to", "2026-05-08"], "to belongs"),
                                            (["--replay-name", "q2"], "replay_name belongs"),
                                            (["--to", "2026-05-08", "--replay-name", "q2"], "to and replay_name")])
def test_a_replays_options_without_its_start_are_refused_never_dropped(tmp_path, options, named):
    """The desk's one refusal (the command line refused --to alone and dropped --replay-name alone)."""
    folder = synthetic_folder(tmp_path / "list", end="2025-09-30")
    args = build_parser().parse_args(["watch", str(folder), "--horizon", "3", *options])
    with pytest.raises(UserError, match=f"{named}.* to a replay, which replay_from starts") as refused:
        watch_request(args)
    assert [f.setting for f in refused.value.fix] == ["replay_from"]


def test_no_replay_option_is_a_live_watch(tmp_path):
    folder = synthetic_folder(tmp_path / "list", end="2025-09-30")
    assert watch_request(build_parser().parse_args(["watch", str(folder), "--horizon", "3"])).replay is None


def test_the_watch_requests_own_knobs_reach_it_from_the_command_line(tmp_path):
    folder = synthetic_folder(tmp_path / "list", end="2025-09-30")
    args = build_parser().parse_args(["watch", str(folder), "--horizon", "3", "--replay-from", "2025-09-01",
                                      "--replay-name", "q3", "--include-training-period", "--learn"])
    request = watch_request(args)
    assert request.learn and request.include_training_period
    assert (request.replay.start, request.replay.end, request.replay.label) == ("2025-09-01", None, "q3")
