"""The Evaluate page says how many of the cut-offs asked for fit the bars (issue 51 item 17): 400 bars at
horizon 30 said "score ... on the latest 20 cut-offs", then "all 10 cut-offs fall inside ..."."""
from __future__ import annotations

import pytest
from app_helpers import first_model_seen_until, good_csv


@pytest.fixture
def seen_model(app_env, tmp_path, monkeypatch):
    """A tiny model whose bundle says it saw data up to 2030: every bar of the uploaded file is inside."""
    return first_model_seen_until(tmp_path, app_env, monkeypatch, "2030-12-31")


def messages(elements) -> str:
    return " | ".join(str(e.value) for e in elements)


def test_evaluate_says_only_10_of_the_20_cut_offs_fit_400_bars_at_horizon_30(new_app, seen_model):
    at = new_app().run()
    at.sidebar.selectbox(key="sb_source").set_value("file").run()
    at.sidebar.file_uploader(key="sb_upload").set_value(("four_hundred.csv", good_csv(400), "text/csv")).run()
    at.sidebar.number_input(key="sb_horizon").set_value(30).run()
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception, at.exception
    lookback = 128 - 30  # the tiny model's context minus the horizon
    fit = len(range(400 - 30, lookback - 1, -30))  # the latest cut-offs 30 bars apart with a full history
    assert fit == 10
    assert (f"on the latest 10 cut-offs (only 10 of the 20 asked for fit these 400 bars: each needs {lookback} bars "
            "of history and 30 after it)") in messages(at.info)
    at.button(key="ev_run").click().run()
    assert "all 10 cut-offs (only 10 of the 20 asked for fit the bars) fall inside the model's training period" in \
        messages(at.error)
