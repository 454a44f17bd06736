"""A rank evaluation worded once (``desk.rank_tables``): the model's ranking against each naive one judged by
``desk.rank.versus_naive`` and said in one sentence each, the naive rankings named in the table, a missing interval
said as such; ``kronos batch --evaluate`` prints these words and the Screener's "Does the ranking work?" shows them."""
from kronos_studio.cli.batch_evaluate import report_text
from kronos_studio.desk.cells import MISSING
from kronos_studio.desk.rank import versus_naive
from kronos_studio.desk.rank_tables import rank_words

STATS = {"rank_ic_mean": 0.0312, "rank_ic_ci95": [-0.01, 0.07], "rank_ic_nw_t": 1.523, "rank_ic_ir": 0.2,
         "rank_hit_rate": 0.6, "ic_mean": 0.02, "ic_ci95": [0.001, 0.04], "ic_ir": 0.1, "hit_rate": 0.55,
         "spread_mean": 0.0012, "spread_after_costs_mean": 0.0008, "turnover": 1.2, "dates": 40}


def versus(lo, hi, beats=False) -> dict:
    return {"rank_ic_diff_mean": None if lo is None else (lo + hi) / 2, "rank_ic_diff_ci95": [lo, hi], "dates": 40,
            "beats": beats}


def report() -> dict:
    return {"paths": [1, 10], "versus_baselines": {"10": {"expected_log_return": {
        "momentum": versus(0.01, 0.05, beats=True), "reversal": versus(-0.02, 0.03), "random": versus(-0.05, -0.01),
        "p_up": versus(None, None)}}}, "dates_left_out": {}, "dates": 40, "series": 5, "horizon": 5, "step": 5,
        "nw_lag": 4, "costs_bps": 0.0, "series_ending_early": [], "elapsed_s": 1.0, "forecasts": 20,
        "signals": {"1": {"expected_log_return": STATS}, "10": {"expected_log_return": STATS}},
        "baselines": {"momentum": STATS, "random": {**STATS, "rank_ic_ci95": [None, None]}}}


def test_each_naive_ranking_is_beaten_tied_or_beating_by_its_interval_in_one_sentence():
    full = report()
    assert [(name, verdict) for name, _, verdict in versus_naive(full)] == [
        ("momentum", "beats"), ("reversal", "does not beat"), ("random", "is beaten by"), ("p_up", None)]
    words = rank_words(full).verdicts
    assert words[0] == ("Expected return (mean of paths) at 10 paths beats the naive Momentum (past H bars): rank IC "
                        "difference +0.030 (95% interval +0.010 to +0.050, 40 dates).")
    assert "does not beat the naive Reversal (−last bar): rank IC difference +0.005 (95% interval -0.020 to +0.030" \
        in words[1]
    assert "is beaten by the naive Random ranking" in words[2]
    assert words[3].startswith("Expected return (mean of paths) at 10 paths against the naive P(up): no interval")
    lines = report_text(full).splitlines()  # the command line prints the same sentences
    assert all(sentence in lines for sentence in words)


def test_the_table_names_the_naive_rankings_and_says_a_missing_interval():
    frame = rank_words(report()).table.frame
    assert list(frame["Signal"]) == ["Expected return (mean of paths)"] * 2 + [
        "Momentum (past H bars) — naive", "Random ranking — naive"]
    assert list(frame["Paths"]) == ["1", "10", MISSING, MISSING]  # a naive ranking samples no paths
    momentum, random = frame.iloc[2], frame.iloc[3]
    assert momentum["95% interval"] == "-0.010 to +0.070" and momentum["IC 95% interval"] == "+0.001 to +0.040"
    assert random["95% interval"] == MISSING  # too few dates for one: said, not drawn as 'None to None'
    assert (momentum["Rank IC"], momentum["NW t"], momentum["Rank IC > 0"], momentum["Spread"]) == (
        "+0.031", "+1.52", "60.00%", "+0.0012")
    assert list(frame.columns).index("Rank IC > 0") == list(frame.columns).index("Rank IC IR") + 1


def test_the_guard_warning_and_the_series_left_out_are_said():
    why = "its bars (2000-03-01 → 2013-03-01) lie outside the 5 cut-off dates (2018-10-05 → 2018-12-21)"
    words = rank_words({**report(), "dates_left_out": {"training_period": 2}, "series_unused": {"GOOG": why},
                        "series_ending_early": ["IBM"], "guard": {"in_training_period": 3, "training_period": "to 2020",
                                                                  "in_training_period_included": True}})
    assert words.said[0].startswith("40 cut-off dates × 5 of 6 series, horizon 5, step 5, Newey–West lag 4")
    assert words.said[0].endswith("2 dates inside the training period left out")
    assert words.said[1] == "Ending before the last cut-off (used where they have bars): IBM"
    assert words.left_out == (f"GOOG not ranked: {why}",)
    assert words.warnings == ("3 dates are inside the model's training period (to 2020): their ranking partly "
                              "measures memory, not forecasting",)
    assert rank_words(report()).warnings == ()
