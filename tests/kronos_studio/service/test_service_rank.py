"""``POST /v1/batch`` with ``evaluate``: the cross-sectional walk-forward as a job, its report (with the
panel) and the panel as Parquet."""
from __future__ import annotations

import io

import httpx
import pandas as pd
from service_helpers import bearer, finished_job
from testkit import random_bars


def test_an_evaluating_batch_job_returns_the_report_and_its_panel(service, tiny_model):
    base, _, tokens = service
    series = [{"name": f"s{i}", "bars_csv": random_bars(140, seed=i, freq="1h").to_csv(index=False)} for i in range(4)]
    body = {"series": series, "model": tiny_model, "horizon": 3, "lookback": 48,
            "evaluate": {"cutoffs": 6, "paths": [4, 2], "costs_bps": 10}}
    with httpx.Client(base_url=base, headers=bearer(tokens["a"]), timeout=300) as c:
        submitted = c.post("/v1/batch", json=body)
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["id"]
        status = finished_job(c, job_id, 240)
        assert status["status"] == "done", status
        assert status["summary"]["dates"] == 6 and status["summary"]["paths"] == [2, 4]
        report = c.get(f"/v1/jobs/{job_id}/result").json()
        parquet = c.get(f"/v1/jobs/{job_id}/result", params={"format": "parquet"})
        bad = c.post("/v1/batch", json={**body, "evaluate": {"cutoffs": 6, "paths": [0]}})
        unread = c.post("/v1/batch", json={**body, "levels": [0.99], "touch_levels": [-0.1]})
        few = c.post("/v1/batch", json={**body, "evaluate": {"cutoffs": 3, "paths": [2]}}).json()["id"]
        refused = finished_job(c, few, 240)
    assert set(report["signals"]) == {"2", "4"} and set(report["baselines"]) == {"momentum", "reversal", "random"}
    stats = report["signals"]["4"]["expected_log_return"]
    assert {"ic_mean", "ic_std", "ic_ir", "rank_ic_mean", "rank_ic_nw_t", "rank_ic_ci95", "hit_rate", "spread_mean",
            "spread_after_costs_mean", "turnover", "dates", "series"} <= set(stats)
    assert stats["series"] == 4 and report["costs_bps"] == 10
    panel = pd.read_parquet(io.BytesIO(parquet.content))
    assert len(panel) == len(report["panel"]) == 2 * 6 * 4  # path counts x dates x series
    assert bad.status_code == 422 and "every path count must be at least 1" in bad.text
    assert unread.status_code == 422 and "levels, touch_levels shape a screen's rows" in unread.text  # not left unread
    # too few dates: the job's error names the request's fields (RankSkillError's fixes), not flags
    assert refused["status"] == "failed" and "only 3 usable cut-off dates" in refused["error"]
    assert 'the field "cutoffs"' in refused["error"] and 'the field "step"' in refused["error"]
    assert "--" not in refused["error"]
