"""A rank evaluation (``Desk.rank``) in words, built once for every face: ``kronos batch --evaluate`` prints it, the
Screener's "Does the ranking work?" shows it. What was scored, the training-period guard's warning, the series left
out, the signals x statistics ``Table`` (``risk_tables.Table``: readable names, 95% intervals, the naive rankings
below), one verdict per naive ranking and the throughput line; each cell by the one rule (``cells``: '–' where there
is none). The JSON (``Ranked.to_json``) stays the numbers."""
from __future__ import annotations

from dataclasses import dataclass

from kronos.lazy import pd

from .cells import MISSING, number_text, percent_text
from .rank import versus_naive
from .risk_tables import Table

SIGNAL_LABELS = {"expected_log_return": "Expected return (mean of paths)", "median_log_return": "Median return",
                 "p_up": "P(up)", "mean_over_sd": "Mean / σ of paths", "momentum": "Momentum (past H bars)",
                 "reversal": "Reversal (−last bar)", "random": "Random ranking"}
NAIVE = " — naive"  # after a naive ranking's name in the table
# The columns, each share of positive dates beside the IC it counts ("Rank IC > 0": the share of dates whose rank
# IC is above 0), and the spec of each number (the rest: percents, counts)
COLUMNS = {"signal": "Signal", "paths": "Paths", "rank_ic_mean": "Rank IC", "rank_ic_ci95": "95% interval",
           "rank_ic_nw_t": "NW t", "rank_ic_ir": "Rank IC IR", "rank_hit_rate": "Rank IC > 0", "ic_mean": "IC",
           "ic_ci95": "IC 95% interval", "ic_ir": "IC IR", "hit_rate": "IC > 0", "spread_mean": "Spread",
           "spread_after_costs_mean": "After costs", "turnover": "Turnover", "dates": "Dates"}
SPECS = {"rank_ic_mean": "+.3f", "rank_ic_ci95": "+.3f", "rank_ic_nw_t": "+.2f", "rank_ic_ir": "+.3f",
         "ic_mean": "+.3f", "ic_ci95": "+.3f", "ic_ir": "+.3f", "spread_mean": "+.4f",
         "spread_after_costs_mean": "+.4f", "turnover": ".2f"}
SHARES = ("rank_hit_rate", "hit_rate")


@dataclass(frozen=True)
class RankWords:
    """A rank evaluation in words: ``said`` (what was scored, the series ending early), the guard's ``warnings``,
    the series ``left_out`` of every cross-section (each with why), the ``table``, one ``verdicts`` sentence per
    naive ranking, the ``throughput`` line."""

    said: tuple[str, ...]
    warnings: tuple[str, ...]
    left_out: tuple[str, ...]
    table: Table
    verdicts: tuple[str, ...]
    throughput: str


def label(signal: str) -> str:
    """A signal's or naive ranking's name for people (``SIGNAL_LABELS``; another: its key in words)."""
    return SIGNAL_LABELS.get(signal) or signal.replace("_", " ")


def interval_text(bounds, spec: str = "+.3f") -> str:
    """A 95% interval as 'low to high'; '–' when either end is missing (too few dates for one)."""
    lo, hi = bounds if bounds is not None else (None, None)
    if MISSING in (number_text(lo, spec), number_text(hi, spec)):
        return MISSING
    return f"{number_text(lo, spec)} to {number_text(hi, spec)}"


def cell(column: str, value) -> str:
    """One statistic as the table shows it: intervals as 'low to high', shares of dates as percents, counts whole,
    the rest at its column's spec (``SPECS``); '–' where there is none."""
    if column.endswith("_ci95"):
        return interval_text(value, SPECS[column])
    if column in SHARES:
        return percent_text(value)
    return number_text(value, SPECS.get(column, ".4g"))


def signals_table(report: dict) -> Table:
    """Signals x statistics for every path count, the naive rankings below them (named, with no path count)."""
    rows = [{"signal": label(signal), "paths": int(paths), **stats} for paths, by_signal in report["signals"].items()
            for signal, stats in by_signal.items()]
    rows += [{"signal": label(name) + NAIVE, "paths": None, **stats} for name, stats in report["baselines"].items()]
    frame = pd.DataFrame({header: [cell(column, row.get(column)) if column != "signal" else row["signal"]
                                   for row in rows] for column, header in COLUMNS.items()})
    return Table("signals", (), frame)


def scored(report: dict) -> str:
    """What was scored: the dates and series (of how many asked), the horizon, step, Newey–West lag and costs, the
    dates inside the model's training period left out."""
    left = report["dates_left_out"].get("training_period", 0)
    of = report["series"] + len(report.get("series_unused", {})) + len(report.get("series_failed", {}))
    series = f"{report['series']} of {of} series" if of > report["series"] else f"{report['series']} series"
    return (f"{report['dates']} cut-off dates × {series}, horizon {report['horizon']}, step {report['step']}, "
            f"Newey–West lag {report['nw_lag']}, costs {report['costs_bps']:g} bps per unit turnover; {left} dates "
            "inside the training period left out")


def guard_warnings(report: dict) -> tuple[str, ...]:
    """The training-period guard's warning when dates inside it were scored (switched on)."""
    guard = report.get("guard") or {}
    if not (guard.get("in_training_period_included") and guard.get("in_training_period")):
        return ()
    return (f"{guard['in_training_period']} dates are inside the model's training period "
            f"({guard['training_period']}): their ranking partly measures memory, not forecasting",)


def ending_early(report: dict) -> tuple[str, ...]:
    """The series ending before the last cut-off, used where they have bars."""
    early = report.get("series_ending_early") or []
    return (f"Ending before the last cut-off (used where they have bars): {', '.join(early)}",) if early else ()


def left_out(report: dict) -> tuple[str, ...]:
    """The series in no date's cross-section, each with the library's reason."""
    return tuple(f"{name} not ranked: {why}" for name, why in report.get("series_unused", {}).items())


def verdicts(report: dict, signal: str = "expected_log_return") -> tuple[str, ...]:
    """One sentence per naive ranking: does the model's ``signal`` ranking, at the largest path count, beat it
    (``rank.versus_naive``), with the rank IC difference and its 95% interval, or no interval (too few dates)."""
    model = f"{label(signal)} at {report['paths'][-1]} paths"
    out = []
    for name, vs, verdict in versus_naive(report, signal):
        diff = number_text(vs["rank_ic_diff_mean"], "+.3f")
        if verdict is None:
            out.append(f"{model} against the naive {label(name)}: no interval, too few dates with both ICs (rank IC "
                       f"difference {diff}).")
            continue
        out.append(f"{model} {verdict} the naive {label(name)}: rank IC difference {diff} (95% interval "
                   f"{interval_text(vs['rank_ic_diff_ci95'])}, {number_text(vs['dates'])} dates).")
    return tuple(out)


def throughput(report: dict) -> str:
    """The run's speed, honestly labelled: series forecasts per minute (each path count's forecasts counted),
    and the series x cut-offs scored per minute at all the path counts asked for."""
    elapsed, forecasts, counts = report["elapsed_s"], report["forecasts"], len(report["paths"])
    per_minute = 60 / elapsed if elapsed else float("nan")
    return (f"{forecasts} forecasts ({forecasts // counts} series x cut-offs at each of {counts} path counts) in "
            f"{elapsed:.1f} s: {forecasts * per_minute:,.0f} forecasts per minute, {forecasts // counts * per_minute:,.0f} "
            f"series x cut-offs per minute at {counts} path count{'s' if counts > 1 else ''}")


def rank_words(report: dict) -> RankWords:
    """The rank report (``Ranked.report``) in words, for every face."""
    return RankWords((scored(report), *ending_early(report)), guard_warnings(report), left_out(report),
                     signals_table(report), verdicts(report), throughput(report))
