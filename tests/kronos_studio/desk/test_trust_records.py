"""The latest track record of each model on each series, kept in the forecast ledger (``desk.trust.LatestRecords``:
the app's badge beside the fan), and whether a report's fan calibration applies to a forecast (``mismatch``)."""
from dataclasses import replace
from types import SimpleNamespace

from kronos.settings import ForecastSettings
from kronos_studio.desk.trust import LatestRecords, mismatch
from kronos_studio.evaluation.trust import TrackRecord
from kronos_studio.ledger import Ledger


class Report:
    def __init__(self, coverage):
        self.record = TrackRecord({"coverage": coverage, "crps_estimator": "fair", "quantile_method": "weibull"},
                                  {"horizon": 5}, None)

    def track_record(self):
        return self.record


def test_a_crash_while_saving_a_track_record_keeps_the_previous_one(tmp_path, monkeypatch):
    """Track records live in the forecast ledger: a save that fails midway is rolled back whole."""
    series = ("sample", "AAPL", "1d", "bundled:studio-tiny")
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    LatestRecords(lambda: ledger).put("default", series, Report(0.8))
    real_write = ledger.write

    def crash_midway(work):
        def write_then_fail(conn):
            work(conn)  # the new record is written ...
            raise OSError("disk full")  # ... and the transaction dies before it commits

        return real_write(write_then_fail)

    monkeypatch.setattr(ledger, "write", crash_midway)
    kept = LatestRecords(lambda: ledger)
    kept.put("default", series, Report(0.5))  # fails, silently: this process still shows its own
    assert kept.latest("default", series).numbers["coverage"] == 0.5
    monkeypatch.setattr(ledger, "write", real_write)
    assert LatestRecords(lambda: ledger).latest("default", series).numbers["coverage"] == 0.8  # a fresh process
    # A record scored with another CRPS estimator (before the fair one) loses its CRPS numbers, and says so;
    # one of the band rule before the Weibull positions says so too.
    ledger.put_track_record(series, TrackRecord({"coverage": 0.7, "crps_skill": 0.1, "crps_pct": 1.2}, {"horizon": 5},
                                                None).to_dict())
    old = LatestRecords(lambda: ledger).latest("default", series)
    assert old.numbers == {"coverage": 0.7} and "CRPS skill not shown" in old.notes[0]
    assert old.notes[1].startswith("coverage measured with the band rule of earlier versions")
    ledger.close()
    assert LatestRecords(lambda: None).latest("default", series) is None  # no ledger: never evaluated


def test_a_calibration_applies_only_to_the_horizon_and_settings_it_was_fitted_with():
    settings = ForecastSettings(horizon=5, paths=20, seed=0)
    fitted = {"lookback": settings.lookback, **{k: getattr(settings, k) for k in vars(settings)}}
    report = SimpleNamespace(calibration=SimpleNamespace(horizon=5), notes=[], settings=fitted)
    assert mismatch(report, settings) is None
    assert mismatch(report, replace(settings, horizon=3)) is None  # a shorter horizon reads the fitted steps
    assert "fitted for 5 bars ahead, the forecast runs 8" in mismatch(report, replace(settings, horizon=8))
    assert "other settings (temperature)" in mismatch(report, replace(settings, temperature=0.5))
    assert mismatch(SimpleNamespace(calibration=None, notes=[], settings={}), settings) == "no calibration was fitted"
    assert mismatch(SimpleNamespace(calibration=None, notes=["too few cut-offs"], settings={}),
                    settings) == "too few cut-offs"
