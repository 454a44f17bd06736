"""The ledger's reports in words, built once for every face: the risk record's exceptions and tests
(``Desk.risk_record``), the drift of each series and model (``Desk.drift``) and what a score did (``Desk.score``).
``kronos ledger exceptions`` / ``drift`` / ``score`` print them, the Track record page shows them. Each table is a
``risk_tables.Table`` (the sentences said above it, a frame of text under headers for people), each cell by the
one rule of ``desk.cells`` (p-values to three decimals or 'p < 0.001', '–' where there is none). The JSON bodies
(``record_body``, ``Drift.to_dict``) stay the numbers."""
from __future__ import annotations

from kronos.lazy import pd
from kronos.quantiles import BAND_NAME

from .cells import MISSING, counted, missing, number_text, p_text
from .risk_tables import Table, header

WORKSPACE, SERIES, MODEL = "workspace", "series", "model"  # the columns a page of one series and workspace leaves out
P_VALUES = {"kupiec_p": "Kupiec p", "christoffersen_ind_p": "Christoffersen p (independence)",
            "christoffersen_cc_p": "Christoffersen p (conditional coverage)"}
UNTESTED = "why no p-value"  # beside the p-values: '–' there is never said without its reason
STATE_ICONS = {"ok": "✓ ok", "drifting": "⚠ drifting", "too few scored forecasts": "○ too few scored forecasts"}


def series_text(row) -> str:
    """A series as the ledger's reports name it: 'BTCUSDT 1h (binance)'."""
    return f"{row['symbol']} {row['interval']} ({row['source']})"


def text_or_missing(x) -> str:
    return MISSING if missing(x) or x == "" else str(x)


# --- the risk record --------------------------------------------------------------------------------------------
def untested_said(tests: pd.DataFrame) -> tuple[str, ...]:
    """Each distinct reason a test could not run, said once, with the models, positions and levels it holds for."""
    out: dict[str, list[str]] = {}
    for _, row in tests[tests["untested"].map(lambda why: not missing(why))].iterrows():
        out.setdefault(row["untested"], []).append(f"{row['model']} {row['position']} {row['level']:g}")
    return tuple(f"No p-value for {', '.join(where)}: {why}." for why, where in out.items())


def exceptions_table(done) -> Table:
    """A risk record's tests (``RiskRecorded``): one row per workspace, series, model, position and level with its
    exceptions among the non-overlapping forecasts, the count expected, the Basel zone, the p-values (and each
    registered measure's), why a test could not run, the forecasts left out for overlap and those waiting for
    their horizon's bar; said above it: each reason a test could not run."""
    tests = done.record.tests
    if tests.empty:
        return Table("exceptions", (), pd.DataFrame())
    measures = [c for c in tests.columns if c.endswith("_p") and c not in P_VALUES]
    frame = pd.DataFrame({
        WORKSPACE: tests["workspace"], SERIES: [series_text(r) for _, r in tests.iterrows()], MODEL: tests["model"],
        "position": tests["position"], "VaR level": tests["level"].map(number_text),
        "exceptions / forecasts": [f"{x} / {n}" for x, n in zip(tests["exceptions"], tests["used"])],
        "expected": tests["expected"].map(lambda x: number_text(x, ".2f")),
        "Basel zone": tests["zone"].map(text_or_missing),
        **{P_VALUES.get(c) or header(c): tests[c].map(p_text) for c in [*P_VALUES, *measures]},
        UNTESTED: tests["untested"].map(text_or_missing),
        "left out for overlap": tests["overlapping"].map(number_text),
        "waiting for their bars": tests["pending"].map(number_text)})
    return Table("exceptions", untested_said(tests), frame.reset_index(drop=True))


# --- drift ------------------------------------------------------------------------------------------------------
def drift_said(t) -> str:
    """The thresholds (``DriftThresholds``) in words, said above the drift table."""
    return (f"Each model's newest {t.last} scored forecasts (one per last bar): drifting when the "
            f"{BAND_NAME} coverage of the first forecast bar differs from {t.nominal:.0%} (binomial test), its PIT is "
            f"not uniform (Kolmogorov-Smirnov test), either at p < {t.alpha:g}, or its CRPS is worse than the random "
            f"walk's beyond the 95% interval; judged from {t.min_scored} scored forecasts on, the skill from "
            f"{t.min_scored} with a random-walk reference (the {t.rw_min_returns} returns before it known to the ledger).")


def drift_table(done) -> Table:
    """A drift report (``Drifted``): one row per workspace, series and model with its state, why (which test flagged
    it and by how much, what is missing, what was not judged), the forecasts judged, first-bar coverage and the two
    p-values on them, the forecasts with a random-walk reference and the skill against it with its 95% interval
    ('–' below the fewest it is judged from); said above it: the thresholds."""
    def pct(x, spec=".0%"):
        return number_text(x, spec)

    rows = [{WORKSPACE: d.workspace, SERIES: series_text(vars(d)), MODEL: d.model, "state": STATE_ICONS.get(d.state, d.state),
             "why": "; ".join(d.reasons + d.notes) or MISSING, "forecasts judged": number_text(d.scored),
             f"{BAND_NAME} coverage, bar 1": pct(d.coverage), "coverage p (binomial)": p_text(d.coverage_p_value),
             "PIT p (Kolmogorov-Smirnov)": p_text(d.pit_p_value),
             "forecasts with a random-walk reference": number_text(d.skill_forecasts),
             "CRPS skill vs random walk": pct(d.skill, "+.0%"), "95% low": pct(d.skill_ci95[0], "+.0%"),
             "95% high": pct(d.skill_ci95[1], "+.0%")} for d in done.drifts]
    return Table("drift", (drift_said(done.thresholds),), pd.DataFrame(rows))


# --- scoring ----------------------------------------------------------------------------------------------------
def scored_said(one) -> str:
    """What one series' bars scored (``SeriesScored``): 'scored 8 steps of 1 forecast (1 now scored on every step)',
    or 'nothing to score'."""
    if not one.steps:
        return "nothing to score"
    return (f"scored {counted(one.steps, 'step')} of {counted(one.predictions, 'forecast')} "
            f"({one.completed} now scored on every step)")
