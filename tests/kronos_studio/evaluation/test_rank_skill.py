"""Does the screener's ranking work: the cross-sectional walk-forward (``kronos_studio.batch.cross_section``)
and its statistics (``kronos_studio.evaluation.rank_skill``), with stub forecasters whose signal is known."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from data_sources import Bars
from kronos.config import BAR_COLUMNS
from kronos.forecast import Forecast
from kronos.settings import ForecastSettings
from kronos_studio.batch.cross_section import LookAheadError, RankPlan, cross_section
from kronos_studio.evaluation.rank_skill import (
    RankSkillError,
    newey_west,
    newey_west_lag,
    per_date_ic,
    rank_report,
    spreads,
)
from kronos_studio.evaluation.trust import TrainingPeriodError
from kronos_studio.forecasters.base import Forecaster
from kronos_studio.forecasters.period import period_until

HORIZON, LOOKBACK = 3, 20


class TableForecaster(Forecaster):
    """A stub whose expected log return for a series at a cut-off is looked up in ``table`` by (the series'
    id, kept in its volume, the last history bar's time): it never sees a bar after the cut-off, and a
    cut-off the table does not hold fails the test."""

    key, name, min_history = "table", "planted signal", 2

    def __init__(self, table: dict, period=None):
        self.table, self.period = table, period

    def lookback(self, horizon):
        return LOOKBACK

    def describe(self):
        return {"model": "table"}

    def training_period(self):
        return self.period

    def sample(self, history, future, settings, progress=None):
        mu = self.table[(int(history["volume"].iloc[-1]), pd.Timestamp(history["timestamp"].iloc[-1]))]
        r = mu + 1e-4 * np.random.default_rng(settings.seed).standard_normal(settings.paths)
        closes = float(history["close"].iloc[-1]) * np.exp(r)
        paths = np.repeat(np.repeat(closes[:, None, None], settings.horizon, 1), len(BAR_COLUMNS), 2)
        return Forecast(pd.DatetimeIndex(future), paths.astype(np.float32), paths.mean(0), history, settings, {})


def bars_of(sid: int, timestamps, log_returns, interval="1d", calendar="24/7") -> Bars:
    close = 100 * np.exp(np.cumsum(log_returns))
    frame = pd.DataFrame({"timestamp": timestamps, "open": close, "high": close * 1.001, "low": close * 0.999,
                          "close": close, "volume": float(1000 + sid)})
    return Bars.from_frame(frame, source="file", symbol=f"S{sid}", interval=interval, calendar=calendar,
                           origin=f"/data/S{sid}.csv")


def planted_panel(series=30, cutoffs=30, ic=0.3, seed=0, planted=True):
    """``series`` daily series whose forward return over each of ``cutoffs`` non-overlapping H-bar windows is
    beta * signal + noise with correlation ``ic``, and a table forecaster whose expected return is the signal
    (``planted`` False: an independent random signal instead)."""
    rng = np.random.default_rng(seed)
    n = LOOKBACK + HORIZON * cutoffs + HORIZON
    ts = pd.date_range("2021-01-01", periods=n, freq="D", tz="UTC")
    starts = [n - HORIZON - HORIZON * j for j in range(cutoffs)]  # the walk-forward's cut-offs, step = H
    beta = 0.01
    noise = beta * math.sqrt(1 / ic**2 - 1)
    bars, table = {}, {}
    for sid in range(series):
        r = rng.normal(0, 0.002, n)
        for c in starts:
            s = rng.standard_normal()
            r[c:c + HORIZON] = (beta * s + noise * rng.standard_normal()) / HORIZON
            table[(1000 + sid, ts[c - 1])] = s if planted else rng.standard_normal()
        bars[f"S{sid}"] = bars_of(sid, ts, r)
    return bars, TableForecaster(table)


SETTINGS = ForecastSettings(horizon=HORIZON, paths=8, seed=0)


@pytest.fixture(scope="module")
def planted():
    bars, forecaster = planted_panel()
    return cross_section(forecaster, bars, SETTINGS, RankPlan(cutoffs=30, paths=(8,)))


def test_a_planted_signal_gives_back_its_ic_within_its_interval(planted):
    report = rank_report(planted.panel, HORIZON, HORIZON)
    stats = report["signals"]["8"]["expected_log_return"]
    assert stats["dates"] == 30 and stats["series"] == 30
    lo, hi = stats["ic_ci95"]
    assert lo < 0.3 < hi and lo > 0  # Pearson IC of y = beta s + noise is the planted 0.3
    rank_lo, rank_hi = stats["rank_ic_ci95"]
    expected_rank_ic = 6 / math.pi * math.asin(0.3 / 2)  # Spearman's rho of a bivariate normal of correlation 0.3
    assert rank_lo < expected_rank_ic < rank_hi and rank_lo > 0
    assert stats["rank_ic_nw_t"] > 2 and stats["spread_mean"] > 0 and stats["hit_rate"] > 0.5
    vs_random = report["versus_baselines"]["8"]["expected_log_return"]["random"]
    assert vs_random["beats"] and vs_random["dates"] == 30


def test_a_random_signal_has_an_interval_covering_zero():
    bars, forecaster = planted_panel(series=20, cutoffs=20, planted=False, seed=1)
    panel = cross_section(forecaster, bars, SETTINGS, RankPlan(cutoffs=20, paths=(8,)))
    report = rank_report(panel.panel, HORIZON, HORIZON)
    for stats in (report["signals"]["8"]["expected_log_return"], report["baselines"]["random"]):
        lo, hi = stats["rank_ic_ci95"]
        assert lo < 0 < hi


def test_the_panel_holds_each_series_own_forward_return_and_the_naive_signals(planted):
    rows = planted.panel
    assert len(rows) == 30 * 30
    for bars_name in ("S0", "S7"):
        frame = planted_panel()[0][bars_name].frame
        mine = rows[rows["series"] == bars_name]
        pos = pd.DatetimeIndex(frame["timestamp"]).get_indexer(pd.DatetimeIndex(mine["cutoff_time"]))
        close = frame["close"].to_numpy()
        np.testing.assert_allclose(mine["realised"], np.log(close[pos + HORIZON - 1] / close[pos - 1]))
        np.testing.assert_allclose(mine["momentum"], np.log(close[pos - 1] / close[pos - 1 - HORIZON]))
        np.testing.assert_allclose(mine["reversal"], -np.log(close[pos - 1] / close[pos - 2]))


class PeekingForecaster(TableForecaster):
    """Forecasts from its own copy of the whole series, not the history it is handed."""

    def __init__(self, table, full):
        super().__init__(table)
        self.full = full

    def sample(self, history, future, settings, progress=None):
        fc = super().sample(history, future, settings)
        sid = int(history["volume"].iloc[-1])
        fc.history = self.full[f"S{sid - 1000}"].frame
        return fc


def test_a_forecaster_that_reads_past_its_cut_off_is_refused():
    bars, honest = planted_panel(series=4, cutoffs=6)
    with pytest.raises(LookAheadError, match="at or after its cut-off"):
        cross_section(PeekingForecaster(honest.table, bars), bars, SETTINGS, RankPlan(cutoffs=6, paths=(4,)))


def test_an_fx_pair_and_equities_are_aligned_by_their_own_calendars():
    """Three NYSE stocks (New York midnight bars, no bar on holidays) and an FX pair (UTC bars every weekday,
    holidays included) in one list: a date is keyed by each series' local date, a holiday holds only the FX
    pair (left out, never filled forward), and each return is over the series' own next H bars."""
    import exchange_calendars as xcals

    rng = np.random.default_rng(3)
    sessions = xcals.get_calendar("XNYS").sessions_in_range("2019-03-01", "2019-07-31")
    weekdays = pd.bdate_range("2019-03-01", "2019-07-31")
    bars = {f"EQ{i}": bars_of(i, pd.DatetimeIndex(sessions).tz_localize("America/New_York"),
                              rng.normal(0, 0.01, len(sessions)), calendar="XNYS") for i in range(3)}
    bars["EURUSD"] = bars_of(9, weekdays.tz_localize("UTC"), rng.normal(0, 0.005, len(weekdays)), calendar="FX")
    table = {(1000 + sid, t): rng.standard_normal() for sid, b in zip((0, 1, 2, 9), bars.values())
             for t in b.frame["timestamp"]}
    result = cross_section(TableForecaster(table), bars, ForecastSettings(horizon=2, paths=4, seed=0),
                           RankPlan(cutoffs=30, step=1, paths=(4,)))
    rows = result.panel
    assert result.dates == result.dates_requested == 30  # 2019-07-04 (only the FX pair) is no cut-off, not a loss
    assert result.ending_early == []  # a stock's holiday is not the end of its bars
    assert pd.Timestamp("2019-07-04") not in set(rows["date"])
    assert rows.groupby("date")["series"].nunique().eq(4).all()  # every date holds all four
    for name, b in bars.items():
        frame, mine = b.frame, rows[rows["series"] == name]
        local = pd.DatetimeIndex(frame["timestamp"])
        pos = local.get_indexer(pd.DatetimeIndex(mine["cutoff_time"]).tz_convert(local.tz))
        assert (pos > 0).all()
        assert (local[pos].tz_localize(None).normalize() == pd.DatetimeIndex(mine["date"])).all()
        close = frame["close"].to_numpy()
        np.testing.assert_allclose(mine["realised"], np.log(close[pos + 1] / close[pos - 1]))


def test_newey_west_t_is_statsmodels_hac_and_the_textbook_formula():
    import statsmodels.api as sm

    rng = np.random.default_rng(5)
    e = rng.standard_normal(120)
    y = 0.1 + np.convolve(e, [1, 0.6, 0.3])[:120]  # an MA(2): autocorrelated, as overlapping returns are
    lag = 4
    got = newey_west(y, lag)
    fit = sm.OLS(y, np.ones((120, 1))).fit(cov_type="HAC", cov_kwds={"maxlags": lag}, use_t=True)
    assert got.t == pytest.approx(float(fit.tvalues[0]), rel=1e-12)
    assert got.ci95 == pytest.approx(tuple(fit.conf_int(0.05)[0]), rel=1e-12)
    u = y - y.mean()
    gamma = [u[k:] @ u[:len(u) - k] / len(u) for k in range(lag + 1)]
    long_run = gamma[0] + 2 * sum((1 - k / (lag + 1)) * gamma[k] for k in range(1, lag + 1))
    assert got.t == pytest.approx(y.mean() / math.sqrt(long_run / len(y)), rel=1e-9)
    assert got.ci95[0] < y.mean() < got.ci95[1]
    assert newey_west_lag(100, horizon=10, step=1) == 9  # the forward returns overlap 9 bars
    assert newey_west_lag(100, horizon=5, step=5) == 4  # no overlap: Newey-West's rule floor(4 (T/100)^(2/9))


def test_costs_reduce_the_spread_by_turnover_times_cost_exactly():
    """Five series, three dates: the top and bottom one held (k = 1)."""
    signal = {"2024-01-01": [5, 4, 3, 2, 1], "2024-01-02": [5, 2, 3, 4, 1], "2024-01-03": [4, 5, 3, 2, 1]}
    rng = np.random.default_rng(0)
    panel = pd.DataFrame([{"date": pd.Timestamp(date), "series": name, "sig": float(v),
                           "realised": float(rng.normal(0, 0.01))}
                          for date, values in signal.items() for name, v in zip("ABCDE", values)])
    costs = 25.0
    out = spreads(panel, "sig", costs)
    # long A / short E (entered from cash), the same again (nothing traded), long B / short E (A out, B in)
    np.testing.assert_allclose(out["turnover"], [2.0, 0.0, 2.0])
    r = panel.pivot(index="date", columns="series", values="realised")
    np.testing.assert_allclose(out["spread"], [r["A"].iloc[0] - r["E"].iloc[0], r["A"].iloc[1] - r["E"].iloc[1],
                                               r["B"].iloc[2] - r["E"].iloc[2]])
    np.testing.assert_allclose(out["spread"] - out["after_costs"], costs / 1e4 * out["turnover"], rtol=0, atol=1e-15)
    np.testing.assert_allclose(out["cumulative_after_costs"], np.cumsum(out["after_costs"]))


def test_constant_signals_on_a_date_give_no_ic_there():
    panel = pd.DataFrame({"date": pd.Timestamp("2024-01-01"), "series": list("ABCD"), "sig": 1.0,
                          "realised": [0.01, 0.02, -0.01, 0.0]})
    assert per_date_ic(panel, "sig")["rank_ic"].isna().all()


def test_too_few_dates_or_series_are_refused_with_the_numbers():
    bars, forecaster = planted_panel(series=4, cutoffs=4)
    panel = cross_section(forecaster, bars, SETTINGS, RankPlan(cutoffs=4, paths=(4,)))
    with pytest.raises(RankSkillError, match=r"only 4 usable cut-off dates \(at least 5"):
        rank_report(panel.panel, HORIZON, HORIZON)
    bars, forecaster = planted_panel(series=2, cutoffs=6)
    with pytest.raises(RankSkillError, match="no date has 3 series"):
        cross_section(forecaster, bars, SETTINGS, RankPlan(cutoffs=6, paths=(4,)))


def test_mixed_intervals_are_refused_naming_the_files():
    bars, forecaster = planted_panel(series=4, cutoffs=6)
    hourly = bars["S3"].replace(interval="1h")
    bars["S3"] = hourly
    with pytest.raises(RankSkillError, match=r"1d: S0 \(/data/S0.csv\).*1h: S3 \(/data/S3.csv\)"):
        cross_section(forecaster, bars, SETTINGS, RankPlan(cutoffs=6, paths=(4,)))


def test_a_series_that_ends_early_is_used_where_it_has_bars_and_listed():
    bars, forecaster = planted_panel(series=5, cutoffs=10)
    short = bars["S4"]
    bars["S4"] = short.replace(frame=short.frame.iloc[:-12].reset_index(drop=True))
    result = cross_section(forecaster, bars, SETTINGS, RankPlan(cutoffs=10, paths=(4,)))
    assert result.ending_early == ["S4"]
    per_date = result.panel.groupby("date")["series"].nunique()
    assert per_date.iloc[:6].eq(5).all() and per_date.iloc[-4:].eq(4).all()


def test_series_in_no_cross_section_are_named_with_the_reason():
    """A series the panel never uses is named with why (the Screener and the command line show it), never
    dropped without a word."""
    bars, forecaster = planted_panel(series=5, cutoffs=8)
    ts = bars["S0"].frame["timestamp"]
    bars["S5"] = bars_of(5, ts[:10], np.zeros(10))
    bars["S6"] = bars_of(6, pd.date_range("2010-01-01", periods=len(ts), freq="D", tz="UTC"), np.zeros(len(ts)))
    result = cross_section(forecaster, bars, SETTINGS, RankPlan(cutoffs=8, paths=(2,)))
    assert set(result.panel["series"]) == {f"S{i}" for i in range(5)}
    dates = sorted(result.panel["date"].unique())
    span = f"{pd.Timestamp(dates[0]):%Y-%m-%d} → {pd.Timestamp(dates[-1]):%Y-%m-%d}"
    assert result.unused == {
        "S5": f"10 bars: a cut-off needs {LOOKBACK} bars before it and {HORIZON} from it on ({LOOKBACK + HORIZON} in all)",
        "S6": f"its bars (2010-01-01 → {pd.Timestamp('2010-01-01') + pd.Timedelta(days=len(ts) - 1):%Y-%m-%d}) lie "
              f"outside the 8 cut-off dates ({span})"}
    # used only at dates the training-period guard leaves out
    bars, forecaster = planted_panel(series=5, cutoffs=10)
    first = cross_section(forecaster, bars, SETTINGS, RankPlan(cutoffs=10, paths=(2,)))
    dates = sorted(first.panel["date"].unique())
    cut = int(bars["S4"].frame["timestamp"].searchsorted(pd.Timestamp(dates[2]).tz_localize("UTC")))
    bars["S4"] = bars["S4"].replace(frame=bars["S4"].frame.iloc[:cut + HORIZON].reset_index(drop=True))
    forecaster.period = period_until(str(pd.Timestamp(dates[3]).date()), "test")
    guarded = cross_section(forecaster, bars, SETTINGS, RankPlan(cutoffs=10, paths=(2,)))
    assert guarded.unused == {"S4": "used only at cut-off dates inside the model's training period, which are left out"}


def test_an_intraday_series_off_the_others_bar_times_is_named_with_the_reason():
    from collections import defaultdict

    n = LOOKBACK + HORIZON * 8 + HORIZON
    ts = pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC")
    rng = np.random.default_rng(0)
    bars = {f"S{i}": bars_of(i, ts, rng.normal(0, 0.01, n), interval="1h") for i in range(4)}
    bars["S4"] = bars_of(4, ts + pd.Timedelta(minutes=30), rng.normal(0, 0.01, n), interval="1h")
    result = cross_section(TableForecaster(defaultdict(float)), bars, SETTINGS, RankPlan(cutoffs=6, paths=(2,)))
    dates = sorted(result.panel["date"].unique())
    assert list(result.unused) == ["S4"]
    assert result.unused["S4"] == (
        f"no bar at any of the 6 cut-off dates ({pd.Timestamp(dates[0]):%Y-%m-%d %H:%M} UTC → "
        f"{pd.Timestamp(dates[-1]):%Y-%m-%d %H:%M} UTC), though {(HORIZON * 5)} of its bars lie between them: its bar "
        "times are not the ones the other series share")


def test_dates_inside_the_training_period_are_left_out_unless_asked_for():
    bars, forecaster = planted_panel(series=4, cutoffs=10)
    dates = sorted(cross_section(forecaster, bars, SETTINGS, RankPlan(cutoffs=10, paths=(2,))).panel["date"].unique())
    forecaster.period = period_until(str(pd.Timestamp(dates[3]).date()), "test")
    guarded = cross_section(forecaster, bars, SETTINGS, RankPlan(cutoffs=10, paths=(2,)))
    assert guarded.dates == 6 and guarded.left_out["training_period"] == 4
    assert guarded.guard["in_training_period"] == 4 and not guarded.guard["in_training_period_included"]
    kept = cross_section(forecaster, bars, SETTINGS, RankPlan(cutoffs=10, paths=(2,), include_trained=True))
    assert kept.dates == 10 and kept.left_out["training_period"] == 0
    forecaster.period = period_until(str(pd.Timestamp(dates[-1]).date()), "test")
    with pytest.raises(TrainingPeriodError, match="all 10 cut-off dates fall inside"):
        cross_section(forecaster, bars, SETTINGS, RankPlan(cutoffs=10, paths=(2,)))


def test_each_path_count_scores_the_same_dates():
    bars, forecaster = planted_panel(series=6, cutoffs=6)
    result = cross_section(forecaster, bars, SETTINGS, RankPlan(cutoffs=6, paths=(1, 4)))
    by_count = result.panel.groupby("paths")
    assert set(by_count.groups) == {1, 4}
    assert by_count["date"].apply(lambda d: tuple(sorted(d.unique()))).nunique() == 1
    assert result.forecasts == 2 * 6 * 6
    report = rank_report(result.panel, HORIZON, HORIZON)
    assert set(report["signals"]) == {"1", "4"}


def test_bundled_samples_ending_on_different_dates_are_read_whole():
    """A source returns the bars asked for, counted back from its last: a tail of each sample would miss the
    years the samples share (the bokeh stocks end in 2013, the arch indices in 2018)."""
    from kronos_studio.batch.rank_run import load_series
    from kronos_studio.batch.watchlist import symbol_entries

    names = ["IBM daily 2000-2013 (bundled)", "S&P 500 index daily 1999-2018 (arch)"]
    series, failed = load_series(symbol_entries([("sample", n, "1d", None) for n in names]), 100, 300, {})
    assert failed == {}
    for bars in series.values():
        ts = pd.DatetimeIndex(bars.frame["timestamp"])
        assert ts[0].year <= 2000 and (ts.year == 2012).sum() > 200  # both hold the years they share


def mixed_calendars(seed=3, start="2019-01-02", end="2019-12-31"):
    """Three NYSE stocks, an FX pair (every weekday, NYSE holidays included) and a 24/7 coin, with a table
    forecaster that knows every bar."""
    import exchange_calendars as xcals

    rng = np.random.default_rng(seed)
    sessions = pd.DatetimeIndex(xcals.get_calendar("XNYS").sessions_in_range(start, end))
    weekdays, days = pd.bdate_range(start, end), pd.date_range(start, end, freq="D")
    bars = {f"EQ{i}": bars_of(i, sessions.tz_localize("America/New_York"), rng.normal(0, 0.01, len(sessions)),
                              calendar="XNYS") for i in range(3)}
    bars["EURUSD"] = bars_of(8, weekdays.tz_localize("UTC"), rng.normal(0, 0.005, len(weekdays)), calendar="FX")
    bars["BTC"] = bars_of(9, days.tz_localize("UTC"), rng.normal(0, 0.02, len(days)))
    table = {(int(b.frame["volume"].iloc[0]), t): rng.standard_normal() for b in bars.values()
             for t in b.frame["timestamp"]}
    return bars, TableForecaster(table)


@pytest.mark.parametrize("horizon, step", [(5, 5), (3, 4)])
def test_cut_offs_step_in_each_series_own_bars_so_forward_windows_never_reach_the_next(horizon, step):
    """On the union of an FX pair's weekdays, a coin's every day and NYSE sessions, ``step`` dates apart
    would put cut-offs on weekends and holidays (held by one or two series, then dropped) and give a stock
    fewer than H bars between two cut-offs across a holiday: its forward window would overlap the next."""
    bars, forecaster = mixed_calendars()
    result = cross_section(forecaster, bars, ForecastSettings(horizon=horizon, paths=2, seed=0),
                           RankPlan(cutoffs=40, step=step, paths=(2,)))
    rows = result.panel
    assert result.dates == result.dates_requested == 40  # no cut-off lost to a weekend or a holiday
    assert rows.groupby("date")["series"].nunique().eq(5).all()
    assert not (pd.DatetimeIndex(rows["date"]).dayofweek >= 5).any()
    for name, b in bars.items():
        mine = rows[rows["series"] == name].sort_values("date")
        pos = pd.DatetimeIndex(b.frame["timestamp"]).get_indexer(pd.DatetimeIndex(mine["cutoff_time"]))
        assert (np.diff(pos) >= step).all(), name  # H bars after one cut-off end before the next one's
    assert result.overlap == 0
    assert rank_report(rows, horizon, step, overlap=result.overlap)["nw_lag"] == newey_west_lag(40, horizon, step, 0)


def test_the_newey_west_lag_is_the_overlap_actually_present():
    """step < H: each series' H-bar window reaches ceil(H / step) - 1 later cut-offs on its own bars."""
    bars, forecaster = mixed_calendars(seed=4)
    result = cross_section(forecaster, bars, ForecastSettings(horizon=6, paths=2, seed=0),
                           RankPlan(cutoffs=30, step=2, paths=(2,)))
    assert result.overlap == 2
    report = rank_report(result.panel, 6, 2, overlap=result.overlap)
    assert report["nw_lag"] == max(2, newey_west_lag(30, 6, 2, 0))
    from kronos_studio.batch.cross_section import forward_overlap

    members = {d: ["A"] for d in range(4)}
    assert forward_overlap(members, {"A": {0: 10, 1: 12, 2: 20, 3: 21}}, horizon=5) == 1  # 10 reaches 12 only
    assert forward_overlap(members, {"A": {0: 10, 1: 12, 2: 14, 3: 30}}, horizon=5) == 2  # 10 reaches 12 and 14


def test_a_date_is_kept_with_the_series_that_have_a_bar_there_and_the_other_left_out():
    """Four series, one without a bar at a middle cut-off: the date is kept with the three others, and the
    fourth is absent from it (not filled forward from its bar before)."""
    bars, forecaster = mixed_calendars(seed=5)
    bars.pop("BTC")
    plan = RankPlan(cutoffs=12, paths=(2,))
    settings = ForecastSettings(horizon=3, paths=2, seed=0)
    dates = sorted(cross_section(forecaster, bars, settings, plan).panel["date"].unique())
    gap = pd.Timestamp(dates[6])
    fx = bars["EURUSD"].frame
    keep = pd.DatetimeIndex(fx["timestamp"]).tz_localize(None).normalize() != gap
    bars["EURUSD"] = bars["EURUSD"].replace(frame=fx[keep].reset_index(drop=True))
    rows = cross_section(forecaster, bars, settings, plan).panel
    at_gap = rows[rows["date"] == gap]
    assert sorted(at_gap["series"]) == ["EQ0", "EQ1", "EQ2"]
    mine = rows[rows["series"] == "EURUSD"]
    own = pd.DatetimeIndex(mine["cutoff_time"]).tz_convert("UTC").tz_localize(None).normalize()
    assert (own == pd.DatetimeIndex(mine["date"])).all()  # every FX row is at a bar it has


def test_rank_skill_errors_carry_their_values_and_fixes_naming_settings():
    from kronos.errors import InputError

    bars, forecaster = planted_panel(series=4, cutoffs=4)
    panel = cross_section(forecaster, bars, SETTINGS, RankPlan(cutoffs=4, paths=(4,)))
    with pytest.raises(RankSkillError) as caught:
        rank_report(panel.panel, HORIZON, HORIZON)
    e = caught.value
    assert isinstance(e, InputError) and e.values == {"dates": 4, "needed": 5}
    assert {f.setting for f in e.fix} >= {"cutoffs", "step"}
    from app_support.errors import app_message
    from kronos_studio.cli.errors import cli_line
    from kronos_studio.service.errors import as_service_error

    assert "(--cutoffs)" in cli_line(e) and "(--step)" in cli_line(e)
    assert "*Bars between cut-offs*" in app_message(e)
    answer = as_service_error(e)
    assert answer.status == 422 and 'the field "step"' in answer.detail and answer.values == e.values
    forecaster.period = period_until("2030-01-01", "test")
    with pytest.raises(TrainingPeriodError) as caught:
        cross_section(forecaster, bars, SETTINGS, RankPlan(cutoffs=4, paths=(4,)))
    assert "(--include-training-period)" in cli_line(caught.value)  # the one name of the switch (issue 51 item 19)
    assert "Include cut-offs inside the model's training period" in app_message(caught.value)
    assert '("include_training_period": true)' in as_service_error(caught.value).detail


def test_the_json_has_the_rank_ic_ir_beside_the_ic_ir(planted):
    stats = rank_report(planted.panel, HORIZON, HORIZON)["signals"]["8"]["expected_log_return"]
    ics = per_date_ic(planted.panel, "expected_log_return")["rank_ic"]
    assert stats["rank_ic_ir"] == pytest.approx(ics.mean() / ics.std(ddof=1))


def test_statsmodels_is_a_declared_dependency():
    """rank_skill imports statsmodels: an install from pyproject must bring it."""
    from pathlib import Path

    import tomllib

    root = Path(__file__).resolve().parents[3]
    deps = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.split(">")[0].split("=")[0].strip() == "statsmodels" for d in deps)


def test_the_ray_engine_choice_reaches_the_batch_engine_s_actor_pool(monkeypatch):
    """``RankPlan.run`` with engine "ray": every cut-off date is one unit handed to the batch engine's Ray
    actor pool (``ray_workers``, each unit to ``ChunkForecaster.forecast_run``), in windows, and the panel is
    the local one. The pool is stood in for by one in-process actor (a real one: tests/.../test_batch.py)."""
    from contextlib import contextmanager, nullcontext
    from types import SimpleNamespace

    from kronos_studio.batch import cross_section as cs
    from kronos_studio.batch import ray_engine
    from kronos_studio.batch.engine import BatchRun
    from kronos_studio.batch.forecaster import ChunkForecaster

    bars, forecaster = planted_panel(series=5, cutoffs=8)
    local = cross_section(forecaster, bars, SETTINGS, RankPlan(cutoffs=8, paths=(2, 4)))
    asked, windows = [], []

    @contextmanager
    def pool(model, settings, **options):
        asked.append({"model": model, **options})
        actor = SimpleNamespace(forecaster=forecaster, _turn=nullcontext)  # an actor's own model: no shared turn

        def map_chunks(runs, method="forecast"):
            windows.append((len(runs), method))
            return (getattr(ChunkForecaster, method)(actor, run) for run in runs)
        yield map_chunks

    monkeypatch.setattr(ray_engine, "ray_workers", pool)
    monkeypatch.setattr(cs, "RAY_DATES_IN_FLIGHT", 5)
    engine = BatchRun(model="some/model", engine="ray", ray_address="auto", workers=3)
    remote = cross_section(forecaster, bars, SETTINGS, RankPlan(cutoffs=8, paths=(2, 4), run=engine))
    [options] = asked
    assert options["address"] == "auto" and options["workers"] == 3 and options["model"] == "some/model"
    assert options["expected_model"]["model"] == "table"
    assert windows == [(5, "forecast_run")] * 3 + [(1, "forecast_run")]  # 2 path counts x 8 dates, 5 at a time
    pd.testing.assert_frame_equal(local.panel, remote.panel)
