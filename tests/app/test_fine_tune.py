"""The Fine-tune page through AppTest: its before/after walk-forward under the training-period guard, and
the with/without-events comparison when no event falls in the bars (issue 45, items 3 and 11); the registry's
lineage table and timeline (issue 43)."""
from __future__ import annotations

import json

import pytest
from app_helpers import first_model_seen_until


def messages(elements) -> str:
    return " | ".join(str(e.value) for e in elements)


@pytest.fixture
def seen_model(app_env, tmp_path, monkeypatch):
    """A tiny model whose bundle says it saw data up to 2020: the bundled sample (2000-2013) is inside."""
    return first_model_seen_until(tmp_path, app_env, monkeypatch, "2020-12-31")


def scores(at) -> list:
    """The before/after tables on the page (the only dataframes with CRPS columns)."""
    return [d.value for d in at.dataframe if "crps_pct" in d.value.columns]


def fine_tune(at, *, include: bool = False):
    at.sidebar.number_input(key="sb_horizon").set_value(4).run()
    at.number_input(key="sb_paths").set_value(2).run()  # the before/after walk samples with the sidebar's settings
    at.switch_page("pages/fine_tune.py").run()
    at.number_input(key="ft_steps").set_value(1).run()
    at.number_input(key="ft_batch_size").set_value(2).run()
    at.number_input(key="ft_window").set_value(32).run()
    at.number_input(key="ft_eval_cutoffs").set_value(2).run()
    if include:
        at.toggle(key="ft_include_training_period").set_value(True).run()
    at.button(key="ft_run").click().run()
    assert not at.exception, at.exception
    return at


def test_fine_tune_refuses_to_score_bars_inside_the_training_period_unless_switched_on(new_app, seen_model):
    at = new_app().run()
    assert at.sidebar.selectbox(key="sb_model").value.endswith("test-tiny-seen")
    fine_tune(at)
    errors = messages(at.error)
    assert "before/after evaluation could not run" in errors and "inside the model's training period" in errors
    assert "Include cut-offs inside the model's training period" in errors  # the switch that lets it through
    assert not scores(at)  # no score of memory shown as forecasting

    fine_tune(at, include=True)
    assert "In-sample:" in messages(at.error) and "2 of these 2 cut-offs" in messages(at.error)
    [table] = scores(at)
    assert (table["cutoffs"] == 2).all()


def test_fine_tune_does_not_compare_with_and_without_events_when_no_event_falls_in_the_bars(new_app):
    """The bundled calendar (2022-2026) and the 2000-2013 sample: every event channel is empty, so the two
    adapter rows would differ only by the event encoder's learned bias: one row, and the page says why."""
    at = fine_tune(new_app().run())
    [table] = scores(at)
    adapter_rows = [m for m in table.index if m.startswith("test-tiny-a") and "(base)" not in m]
    assert adapter_rows == ["test-tiny-a + AAPL-1d-events (adapter)"], list(table.index)  # not "+ events", "no events"
    assert "No event falls in the evaluated bars" in messages(at.info)
    assert "with events and without" not in messages(at.caption)


def test_retrain_now_decides_with_the_gate_and_the_lineage_table_shows_the_entry(new_app):
    """With champion chosen (issue 51 item 7): one line says fine-tuning needs a base model, Retrain now stays
    and retrains on the champion's base; the registry records the app as the adapter's maker (item 20)."""
    from kronos.checkpoints import load_pair
    from kronos_studio.bundled import default_model_path
    from kronos_studio.ledger import Ledger
    from kronos_studio.ledger.registry import Registry
    from kronos_studio.training.adapters import base_info
    from kronos_studio.training.retrain import RetrainSettings

    at = new_app().run()
    at.sidebar.number_input(key="sb_horizon").set_value(4).run()
    at.sidebar.selectbox(key="sb_model").set_value("champion").run()
    at.switch_page("pages/fine_tune.py").run()
    assert not at.exception, at.exception
    assert "No adapter has been retrained for this series yet" in messages(at.caption)
    assert "Fine-tuning trains an adapter on a base model" in messages(at.info) and not at.error
    assert [b.key for b in at.button if b.key in ("ft_retrain", "ft_run")] == ["ft_retrain"]
    # the champion's base (the bundled model) saw data past the sample's 2013 end: the training-period guard
    # (item 5) holds with the champion too, and its switch lets the retrain run knowingly
    at.button(key="ft_retrain").click().run(timeout=600)
    assert "No retrain." in messages(at.error) and "inside the base model's training period" in messages(at.error)
    at.toggle(key="ft_retrain_include_trained").set_value(True).run()
    at.button(key="ft_retrain").click().run(timeout=600)
    assert not at.exception, at.exception
    said = messages(at.success) + messages(at.info)
    assert "Adapter 1 " in said and "CRPS difference" in said and f"over {RetrainSettings(horizon=4).n_cutoffs} cut-offs" in said
    [table] = [d.value for d in at.dataframe if "reason" in d.value.columns]
    with Ledger.open() as ledger:
        [entry] = Registry(ledger).entries()
    assert table["id"].tolist() == [entry.id] and table["status"].tolist() == [entry.status]
    assert entry.status in ("champion", "rejected") and table["reason"].iloc[0] == entry.reason
    assert entry.made_by == "app: Retrain now"
    assert entry.base_hash == base_info(load_pair(str(default_model_path())))["predictor_revision"]


def test_with_a_kronos_model_fine_tuning_and_retrain_now_are_offered_and_with_the_ensemble_why_not_is_said(new_app):
    at = new_app().run()
    at.switch_page("pages/fine_tune.py").run()
    assert not at.exception and not at.error, at.exception
    assert {"ft_retrain", "ft_run"} <= {b.key for b in at.button}
    at.sidebar.toggle(key="sb_ensemble").set_value(True).run()
    assert not at.exception and not at.error, at.exception
    assert "ft_retrain" not in {b.key for b in at.button}
    assert "the ensemble mixes several" in messages(at.caption)


def test_the_lineage_timeline_draws_every_event_of_the_series_with_its_reason_and_scores(new_app):
    from datetime import datetime, timezone

    from data_sources.samples import load_sample
    from kronos_studio.ledger import Ledger
    from kronos_studio.ledger.registry import MANUAL, Candidate, Registry, SeriesKey

    at = new_app().run()
    key = SeriesKey.of(load_sample(at.sidebar.selectbox(key="sb_sample").value))
    t0 = datetime(2024, 6, 3, tzinfo=timezone.utc)
    with Ledger.open() as ledger:
        registry = Registry(ledger)
        a, b, c = (registry.register(Candidate(key, "tiny", "local:abc", t0, t0, 10, w, f"/a/{w}", {}, "kronos retrain"))
                   for w in ("w1", "w2", "w3"))
        registry.promote(a.id, {"crps": {"challenger": 1.25, "champion": 1.5, "base": 1.5}}, "beat the base model")
        registry.promote(b.id, {"crps": {"challenger": 1.0, "champion": 1.25, "base": 1.5}}, "beat adapter 1")
        registry.promote(c.id)  # by hand
        registry.rollback(key)  # c retired, b restored
        events = registry.history(key)
    at.switch_page("pages/fine_tune.py").run()
    assert not at.exception, at.exception
    [table] = [d.value for d in at.dataframe if "reason" in d.value.columns]
    assert table["id"].tolist() == [c.id, b.id, a.id]  # the table keeps working: newest first
    [chart] = [ch for ch in at.get("plotly_chart") if ch.proto.id and "ft_timeline" in ch.proto.id]
    fig = json.loads(chart.proto.spec)
    drawn = {t["name"]: t for t in fig["data"]}
    assert set(drawn) == {"registered", "promoted", "retired / rolled back", "restored"}
    assert sum(len(t["x"]) for t in fig["data"]) == len(events) == 10
    hovers = " | ".join(h for t in fig["data"] for h in t["hovertext"])
    assert "beat the base model" in hovers and "CRPS challenger 1.250%, champion 1.500%, base 1.500%" in hovers
    assert f"adapter {c.id}</b>: promoted by manual" in hovers and MANUAL in hovers
    assert f"adapter {a.id}</b>: retired by gate" in hovers and f"adapter {c.id}</b>: rolled back by rollback" in hovers
    assert drawn["restored"]["y"] == [f"adapter {b.id}"]


def test_the_timeline_of_events_seconds_apart_spans_an_hour_so_its_ticks_are_minutes():
    """A retrain registers and decides within seconds: plotly ticked that at tenths of a second ("15:53:17.1")."""
    from types import SimpleNamespace

    import pandas as pd

    from app_support.lineage import MIN_TIMELINE, timeline_chart

    t0 = pd.Timestamp("2026-11-25 15:53:17.05", tz="UTC")
    events = [SimpleNamespace(at=t0 + pd.Timedelta(seconds=s), event=e, adapter_id=1, by="gate", reason=None, scores=None)
              for s, e in ((0, "registered"), (2.4, "promoted"))]
    lo, hi = (pd.Timestamp(v) for v in timeline_chart(events).layout.xaxis.range)
    assert hi - lo >= MIN_TIMELINE and lo < t0.tz_localize(None) and hi > (t0 + pd.Timedelta(seconds=2.4)).tz_localize(None)
    # events years apart keep their own span, 5% each side
    late = [SimpleNamespace(**{**vars(events[1]), "at": t0 + pd.Timedelta(days=730)})]
    lo, hi = (pd.Timestamp(v) for v in timeline_chart(events[:1] + late).layout.xaxis.range)
    assert hi - lo == pd.Timedelta(days=730) * 1.1


def test_the_lineage_table_shows_the_window_in_the_series_clock_and_says_which(new_app):
    """Issue 51 item 14: "17:30" for a New York 09:30-15:30 series was UTC, unlabelled."""
    from datetime import datetime, timezone

    from data_sources.samples import load_sample
    from kronos_studio.ledger import Ledger
    from kronos_studio.ledger.registry import Candidate, Registry, SeriesKey

    at = new_app().run()
    bars = load_sample(at.sidebar.selectbox(key="sb_sample").value)
    assert bars.timezone == "America/New_York"
    first, last = datetime(2024, 6, 3, 13, 30, tzinfo=timezone.utc), datetime(2024, 6, 4, 19, 30, tzinfo=timezone.utc)
    with Ledger.open() as ledger:
        Registry(ledger).register(Candidate(SeriesKey.of(bars), "tiny", "local:abc", first, last, 10, "w", "/a/w", {},
                                            "kronos retrain"))
    at.switch_page("pages/fine_tune.py").run()
    assert not at.exception, at.exception
    [table] = [d.value for d in at.dataframe if "reason" in d.value.columns]
    assert table["trained on (America/New_York)"].tolist() == ["2024-06-03 09:30 to 2024-06-04 15:30"]
    assert "decided (UTC)" in table.columns


def test_retrain_now_refuses_bars_inside_the_training_period_unless_switched_on(new_app, seen_model):
    """Issue 51 item 5: Retrain now decided on cut-offs the base model had seen, with no notice. Now the page's
    training-period switch, as for its before/after evaluation: refused without it (nothing trained), flagged
    with it."""
    from kronos_studio.ledger import Ledger
    from kronos_studio.ledger.registry import Registry
    from kronos_studio.training.retrain import RetrainSettings

    at = new_app().run()
    assert at.sidebar.selectbox(key="sb_model").value.endswith("test-tiny-seen")
    at.sidebar.number_input(key="sb_horizon").set_value(4).run()
    at.switch_page("pages/fine_tune.py").run()
    at.button(key="ft_retrain").click().run(timeout=600)
    assert not at.exception, at.exception
    refused = messages(at.error)
    assert "No retrain." in refused and "inside the base model's training period (data up to 2020-12-31" in refused
    assert "*Include cut-offs inside the model's training period*" in refused
    # issue 62 item 16: said plainly (it read "the 0 after it cannot tell a better model from noise"), and no empty
    # progress bar is left above the refusal
    from kronos_studio.training.gate import MIN_GATE_CUTOFFS

    assert (f"that leaves 0 held-out cut-offs after its training period, and the gate needs at least "
            f"{MIN_GATE_CUTOFFS} to tell a better model from noise") in refused
    assert "the 0 after it" not in refused and not at.get("progress")
    with Ledger.open() as ledger:
        assert Registry(ledger).entries() == []

    at.toggle(key="ft_retrain_include_trained").set_value(True).run()
    at.button(key="ft_retrain").click().run(timeout=600)
    assert not at.exception, at.exception
    said = messages(at.success) + messages(at.info)
    n = RetrainSettings(horizon=4).n_cutoffs
    assert "Adapter 1 " in said and f"{n} of these {n} cut-offs forecast bars inside the base model's training period" in said


def test_retrain_now_trains_and_judges_with_the_window_cutoffs_and_steps_set_on_the_page(new_app):
    """Issue 52: Retrain now always used the default retrain settings. The page's Retrain settings offer each
    of ``RetrainSettings``' knobs at its default, and the retrain runs with what was set there: the registry
    entry learned from the window asked for, and the gate judged it on the cut-offs asked for."""
    from kronos.settings import knobs
    from kronos_studio.ledger import Ledger
    from kronos_studio.ledger.registry import Registry
    from kronos_studio.training.retrain import RetrainSettings

    at = new_app().run()
    at.sidebar.number_input(key="sb_horizon").set_value(4).run()
    at.switch_page("pages/fine_tune.py").run()
    assert not at.exception, at.exception
    for name, (default, knob) in knobs(RetrainSettings).items():
        box = (at.toggle if isinstance(default, bool) else at.number_input)(key=f"ft_retrain_{knob.name(name)}")
        assert (box.label, box.value) == (knob.label, default)
    asked = {"window": 120, "lookback": 24, "cutoffs": 5, "steps": 2, "paths": 4}
    for setting, value in asked.items():
        at.number_input(key=f"ft_retrain_{setting}").set_value(value).run()
    at.toggle(key="ft_retrain_include_trained").set_value(True).run()
    at.button(key="ft_retrain").click().run(timeout=600)
    assert not at.exception and not at.error, (at.exception, messages(at.error))
    said = messages(at.success) + messages(at.info)
    assert "Adapter 1 " in said and "over 5 cut-offs" in said, said
    with Ledger.open() as ledger:
        [entry] = Registry(ledger).entries()
    assert entry.window_bars == 120
