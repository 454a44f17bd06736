"""Issue 62 item 14: a risk reading said "24-bar horizon" and nothing of when it ends, for EUR/USD hourly bars whose
24 bars after a Friday close span the weekend. The reading carries the time of the horizon's last bar (the
forecast's last future bar: one home, ``RiskReading.horizon_end``); the JSON body gives it, ``kronos risk`` says it."""
from __future__ import annotations

import json

import pandas as pd

from data_sources import load_sample
from kronos.settings import ForecastSettings
from kronos_studio.cli import main as cli
from kronos_studio.desk import Desk, RiskRequest
from kronos_studio.desk.risk import risk_body
from kronos_studio.risk.measures import RiskSettings

FX = "EUR/USD hourly 2017-2018 (backtesting.py)"


def friday_bars():
    """The EUR/USD sample up to its last bar before the 2017 New Year's weekend: Friday 2017-12-29 16:00 New York."""
    bars = load_sample(FX)
    frame = bars.frame[bars.frame["timestamp"] <= pd.Timestamp("2017-12-29 16:00", tz="America/New_York")]
    return bars.replace(frame=frame.reset_index(drop=True))


def test_the_risk_reading_says_when_its_horizon_ends(tmp_path, capsys):
    bars = friday_bars()
    settings = ForecastSettings(horizon=24, paths=200, seed=3)
    done = Desk().risk(RiskRequest(bars, "garch", settings, RiskSettings(per_step=False)))
    end = done.forecast.timestamps[-1]
    assert done.reading.horizon_end == end
    # 24 hourly bars after a Friday 16:00 run past the weekend and New Year's Day (the FX calendar's holiday)
    assert end > bars.frame["timestamp"].iloc[-1] + pd.Timedelta(days=3)
    assert risk_body(done)["horizon_end"] == end.isoformat()

    file = tmp_path / "eurusd.csv"
    bars.frame.to_csv(file, index=False)
    code = cli.main(["risk", str(file), "--model", "garch", "--horizon", "24", "--paths", "200", "--seed", "3",
                     "--calendar", "FX", "--no-per-step", "--json", str(tmp_path / "risk.json")])
    out = capsys.readouterr().out
    assert code == 0
    body = json.loads((tmp_path / "risk.json").read_text())
    said = pd.Timestamp(body["horizon_end"])
    assert said == end  # the same bar, from the file as from the sample
    assert f"24-bar horizon ending {end:%a %Y-%m-%d %H:%M %Z} (its last bar)" in out.splitlines()[0]
