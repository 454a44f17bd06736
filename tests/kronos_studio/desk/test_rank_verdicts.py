"""The model's ranking against each naive one, judged once (``desk.rank.versus_naive``) and worded alike by the
command line (``kronos batch --evaluate``) and the Screener's "Does the ranking work?"."""
from app_support.rank_skill import verdicts
from kronos_studio.cli.batch_evaluate import report_text
from kronos_studio.desk.rank import versus_naive


def versus(lo, hi, beats=False) -> dict:
    return {"rank_ic_diff_mean": None if lo is None else (lo + hi) / 2, "rank_ic_diff_ci95": [lo, hi], "dates": 40,
            "beats": beats}


def test_each_naive_ranking_is_beaten_tied_or_beating_by_its_interval():
    report = {"paths": [1, 10], "versus_baselines": {"10": {"expected_log_return": {
        "momentum": versus(0.01, 0.05, beats=True), "reversal": versus(-0.02, 0.03), "random": versus(-0.05, -0.01),
        "p_up": versus(None, None)}}}}
    assert [(name, verdict) for name, _, verdict in versus_naive(report)] == [
        ("momentum", "beats"), ("reversal", "does not beat"), ("random", "is beaten by"), ("p_up", None)]
    words = verdicts(report)
    assert words[0].startswith("The model's ranking beats the naive **Momentum") and "is beaten by" in words[2]
    assert words[3].startswith("No interval against the naive **P(up)**")
    full = {**report, "dates_left_out": {}, "dates": 40, "series": 5, "horizon": 5, "step": 5, "nw_lag": 4,
            "costs_bps": 0.0, "series_ending_early": [], "signals": {}, "baselines": {}, "elapsed_s": 1.0,
            "forecasts": 20}
    lines = report_text(full).splitlines()
    assert any(line.endswith("vs reversal: rank IC +0.005 (-0.020 to +0.030): does not beat it") for line in lines)
    assert any(line.endswith("vs random: rank IC -0.030 (-0.050 to -0.010): is beaten by it") for line in lines)
    assert any(line.endswith("(n/a to n/a): no interval (too few dates)") for line in lines)
