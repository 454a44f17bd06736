"""The Compare page beyond the figure builders (tests/app/test_charts.py): what it says of each model's forecast."""
from __future__ import annotations

import os

from app_helpers import good_csv
from champion_kit import promote_champion


def captions(at) -> str:
    return " | ".join(str(c.value) for c in at.caption)


def test_compare_with_champion_says_which_adapter_served(new_app, tmp_path):
    """As the Forecast page does: ``champion`` is the series' promoted adapter, or the base when there is none."""
    from kronos_studio.bars_input import read_bars
    from kronos_studio.ledger import Ledger

    at = new_app().run()
    at.sidebar.selectbox(key="sb_source").set_value("file").run()
    at.sidebar.file_uploader(key="sb_upload").set_value(("CHAMPX.csv", good_csv(), "text/csv")).run()
    at.sidebar.number_input(key="sb_horizon").set_value(4).run()
    at.number_input(key="sb_paths").set_value(4).run()
    at.switch_page("pages/compare.py").run()
    first = at.multiselect(key="cmp_models").value[0]
    at.multiselect(key="cmp_models").set_value([first, "champion"]).run()
    at.button(key="run_compare").click().run()
    assert not at.exception and not at.error, at.error
    assert "Model **champion**: no champion for file:CHAMPX:1d" in captions(at)

    with Ledger.open(os.environ["KRONOS_STUDIO_DB"]) as ledger:
        entry = promote_champion(read_bars(good_csv(), "CHAMPX.csv"), ledger, tmp_path / "adapter")
    at.run()
    at.button(key="run_compare").click().run()
    assert not at.exception and not at.error, at.error
    assert f"Model **champion**: champion adapter {entry.id} of file:CHAMPX:1d" in captions(at)
    assert captions(at).count("Model **champion**") == 1  # the other model's card says nothing of it


def test_with_and_without_covariates_greys_out_the_model_picker(new_app):
    """Issue 62 item 16: in "With / without covariates" the page compares Chronos-2 with the sidebar's covariates and
    alone, whatever the model picker holds, yet the picker stayed editable. It is greyed out there (and keeps its
    models for the other modes)."""
    import pytest

    from kronos_studio.ensemble.chronos2 import BUNDLED_CHRONOS2

    if not BUNDLED_CHRONOS2.is_dir():
        pytest.skip("the bundled Chronos-2 is not present")
    at = new_app().run()
    at.sidebar.selectbox(key="sb_sample").set_value("NASDAQ Composite daily 1999-2018 (arch)").run()
    at.sidebar.multiselect(key="sb_condition_on").set_value(["S&P 500 index daily 1999-2018 (arch)"]).run()
    at.switch_page("pages/compare.py").run()
    picked = at.multiselect(key="cmp_models").value
    assert not at.exception and not at.multiselect(key="cmp_models").disabled
    at.segmented_control(key="cmp_mode").set_value("With / without covariates").run()
    assert not at.exception and at.multiselect(key="cmp_models").disabled
    assert "compares Chronos-2 with the sidebar's covariates and alone" in at.multiselect(key="cmp_models").help
    at.segmented_control(key="cmp_mode").set_value("Forecast").run()
    assert not at.multiselect(key="cmp_models").disabled and at.multiselect(key="cmp_models").value == picked
