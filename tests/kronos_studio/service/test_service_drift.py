"""``GET /v1/ledger/drift``: a workspace's drift, as ``kronos ledger drift --json`` writes it; another
workspace sees none of it; a window below the minimum is refused with the numbers."""
from __future__ import annotations

import sys
from pathlib import Path

import httpx
from service_helpers import bearer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ledger"))  # the ledger tests' regime series
from ledger_helpers import CHANGE, HORIZON, record_and_score, regime_series  # noqa: E402

from kronos_studio.ledger.drift import DRIFTING, MIN_SCORED, drift_report  # noqa: E402


def test_drift_of_the_workspace_and_no_other(service):
    base, svc, tokens = service
    book = svc.ledger.scoped("team-a")
    record_and_score(book, regime_series(), range(CHANGE - HORIZON, 400 - HORIZON, 2), 400)
    with httpx.Client(base_url=base, headers=bearer(tokens["a"]), timeout=120) as a, \
            httpx.Client(base_url=base, headers=bearer(tokens["b"]), timeout=120) as b:
        r = a.get("/v1/ledger/drift", params={"symbol": "REGIME", "last": 25})
        assert r.status_code == 200, r.text
        body = r.json()
        [entry] = body["drift"]
        assert body["workspace"] == "team-a" and body["last"] == 25
        assert entry == drift_report(book, 25, symbol="REGIME")[0].to_dict()
        assert entry["state"] == DRIFTING and entry["scored"] == 25 and entry["coverage_p_value"] < 0.01
        assert b.get("/v1/ledger/drift", params={"symbol": "REGIME"}).json()["drift"] == []
        # the request's bound, which the OpenAPI schema states and the route refuses by
        [last] = [p for p in a.get("/openapi.json").json()["paths"]["/v1/ledger/drift"]["get"]["parameters"]
                  if p["name"] == "last"]
        assert last["schema"]["type"] == "integer" and last["schema"]["minimum"] == MIN_SCORED
        refused = a.get("/v1/ledger/drift", params={"last": MIN_SCORED - 1})
        assert refused.status_code == 422 and refused.json()["problem"] == (
            f"last must be at least {MIN_SCORED}, got {MIN_SCORED - 1}")
