"""The tables of a risk reading (``Desk.risk``), a risk backtest (``Desk.risk_backtest``) and a risk champion choice
(``Desk.risk_champion``) in words, built once for every face: ``kronos risk`` prints them, the app's Risk panel and
Risk backtest show them. Each is a ``Table``: the sentences said above it and a frame of text under headers for
people (``HEADERS``; a column the library adds later under its own name in words), each cell by one rule
(``cell``: p-values to three decimals or 'p < 0.001', '–' where there is none, shares of a position as percents),
each model by its name, never its key. The JSON bodies (``desk.risk``'s ``risk_body``, ...) stay the numbers."""
from __future__ import annotations

from dataclasses import dataclass

from kronos.lazy import np, pd
from kronos_studio.risk.registry import judged

from .cells import MISSING, bar_time_text, number_text, p_text, percent_text

HEADERS = {
    "model": "Model", "position": "Position", "level": "Level", "var": "VaR", "var_se": "VaR ± se", "es": "ES",
    "es_se": "ES ± se", "tail_paths": "Paths beyond VaR", "read_at": "Read at level", "method": "Method",
    "source": "Source", "per_bar": "Per bar", "over_horizon": "Over the horizon", "interval": "Interval",
    "exceptions": "Exceptions", "observations": "Cut-offs", "kupiec_p": "Kupiec p", "christoffersen_ind_p": "Chr. ind. p",
    "christoffersen_cc_p": "Chr. CC p", "dq_p": "DQ p", "zone": "Basel zone", "es_z2": "ES Z2", "es_z2_p": "ES Z2 p",
    "read_from": "Read from", "verdict": "Verdict", "why": "Against it (Holm) or flagged", "fz0": "FZ0",
    "dm_fz0_vs_reference": "DM", "dm_fz0_p": "DM p", "mcs_fz0_p": "MCS p", "qlike": "QLIKE", "mse": "MSE",
    "mz_intercept": "MZ intercept", "mz_slope": "MZ slope", "mz_joint_p": "MZ p", "dm_qlike_vs_reference": "DM",
    "dm_p": "DM p", "mcs_p": "MCS p", "in_mcs": "In the MCS", "test": "Test", "statistic": "Statistic", "p_value": "p",
    "df": "df", "counts": "Counts"}
TESTS = {"kupiec_pof": "Kupiec (proportion of failures)", "christoffersen_independence": "Christoffersen independence",
         "christoffersen_conditional_coverage": "Christoffersen conditional coverage", "dynamic_quantile":
         "dynamic quantile (DQ)", "basel_traffic_light": "Basel traffic light", "acerbi_szekely_z2": "Acerbi–Szekely Z2 (ES)"}
PERCENTS = ("var", "var_se", "es", "es_se", "per_bar", "over_horizon")  # shares of a position's value
# one spec per column where rows are compared digit by digit (fixed decimals line up); the rest: 4 significant digits
NUMBER_FORMATS = {"fz0": ".4f", "qlike": ".3f", "mse": ".3e", "mz_slope": ".3f", "mz_intercept": ".2e",
                  "dm_fz0_vs_reference": "+.2f", "dm_qlike_vs_reference": "+.2f", "es_z2": "+.3f"}
# the abbreviated tests' names, said once above the backtest's tables (each line within 100 columns)
TEST_LEGEND = ("Chr.: Christoffersen, of independence (ind.) and conditional coverage (CC); DQ: dynamic quantile;",
               "ES Z2: Acerbi–Szekely's ES test; Basel zone: the traffic light of 250 one-step 99% VaRs.")
SUMMARY = ("exceptions", "observations", "kupiec_p", "christoffersen_ind_p", "christoffersen_cc_p", "dq_p", "zone",
           "es_z2_p")
FZ0 = ("fz0", "dm_fz0_vs_reference", "dm_fz0_p", "mcs_fz0_p")
VARIANCE = ("qlike", "mse", "mz_slope", "mz_joint_p", "dm_qlike_vs_reference", "dm_p", "mcs_p")


@dataclass(frozen=True)
class Table:
    """One table in words: ``key`` (which: a face may show some), the sentences said above it, the frame of text."""

    key: str
    said: tuple[str, ...]
    frame: pd.DataFrame


def header(column: str) -> str:
    """A column's header (``HEADERS``; another column: its name in words)."""
    return HEADERS.get(column) or column.replace("_", " ")


def cell(column: str, value) -> str:
    """A value as a table shows it: p-values to three decimals or 'p < 0.001', '–' where there is none (a test
    that could not run, a zone that does not apply), shares of a position as percents, the counts behind a test
    as words, a number at its column's spec (``NUMBER_FORMATS``)."""
    if column == "p_value" or column.endswith("_p"):
        return p_text(value)
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')} {number_text(v)}" for k, v in value.items()) or MISSING
    if column == "test":
        return TESTS.get(value, str(value).replace("_", " "))
    if column in PERCENTS:
        return percent_text(value)
    return number_text(value, NUMBER_FORMATS.get(column, ".4g"))


def worded(frame: pd.DataFrame, names: dict | None = None, index: str | None = "model") -> pd.DataFrame:
    """``frame`` as text under worded headers (``header``, ``cell``); its index (the models' keys) first as the
    column ``index`` unless None; ``names``: the models' keys -> their names (in the ``model`` column)."""
    names = names or {}
    if index is not None:
        frame = frame.rename_axis(index).reset_index()
    return pd.DataFrame({header(c): [cell(c, names.get(v, v) if c == "model" else v) for v in frame[c]]
                         for c in frame.columns})


# --- a risk reading -------------------------------------------------------------------------------------------
def served_table(served) -> Table:
    """The risk model serving the series: which and why, what it has learnt, and its VaR and ES (read at the
    level its recalibration learnt: ``Read at level``)."""
    learnt = served.learnt
    said = [f"Served by {served.model.describe(served.name)}", served.why]
    if served.model.recalibration is not None:
        said.append(f"Learnt from {learnt.get('outcomes', 0)} outcomes of this series"
                    + (f" (to {learnt['through']})" if learnt.get("through") else "")
                    + f"; variance scale {learnt.get('variance_scale', 1.0):.3f}.")
    rows = [{"position": t["position"], "level": t["level"], "var": t["var"], "es": t["es"],
             "read_at": 1 - t["tail_probability"]} for t in served.readings]
    return Table("served", tuple(said), worded(pd.DataFrame(rows), index=None))


def var_es_table(path, said: tuple[str, ...] = ()) -> Table:
    """One row per position and level: VaR and ES at the horizon with their Monte-Carlo errors and the paths
    beyond the VaR the ES is the mean of."""
    rows = [{"position": t.position, "level": t.level, "var": t.var, "var_se": t.var_se, "es": t.es, "es_se": t.es_se,
             "tail_paths": t.tail_paths} for t in path.horizon]
    return Table("var_es", said, worded(pd.DataFrame(rows), index=None))


def volatility_table(volatility) -> Table:
    """The volatility of a bar's log-return: the paths', the history's and the models', per bar and over the
    horizon, with the paths' interval."""
    rows = [{"method": v.method, "source": v.source, "per_bar": v.per_bar, "over_horizon": v.horizon,
             "interval": MISSING if v.low is None else f"{percent_text(v.low)} to {percent_text(v.high)}"}
            for v in volatility.readings]
    return Table("volatility", (f"Volatility of a bar's log-return ({volatility.interval:.0%} interval across paths):",),
                 worded(pd.DataFrame(rows), index=None))


def risk_tables(done) -> list[Table]:
    """The tables of a risk reading (``Risked``): the served model's VaR and ES (no model asked), VaR and ES of the
    paths at the horizon, the volatility forecast; the stylized facts are the reading's ``verdict``."""
    r, s = done.reading, done.settings
    said = (f"{done.forecast.provenance.get('model')}: {s.horizon}-bar horizon ending {bar_time_text(r.horizon_end)} "
            f"(its last bar), {r.path.paths} paths, last close {r.path.last_close:g}"
            + ("" if done.served is None else " (the paths of the serving model)"),)
    return ([] if done.served is None else [served_table(done.served)]) + [var_es_table(r.path, said),
                                                                           volatility_table(r.volatility)]


# --- a risk backtest ------------------------------------------------------------------------------------------
def model_names(bt) -> dict[str, str]:
    """A backtest's models' keys -> their names (the asked model's too: tables never show its key)."""
    return {key: m.name for key, m in bt.models.items()}


def backtest_said(done) -> list[str]:
    """What a risk backtest is, said above its tables: its cut-offs, horizon, variance proxy and serving model."""
    bt, names = done.backtest, model_names(done.backtest)
    return [f"Risk backtest: {len(bt.cutoffs)} cut-offs, {bt.horizon}-bar horizon, variance proxy {bt.walk.proxy}"
            + (f"; serving this series: {names.get(done.served_key, done.served_key)}" if done.served_key else ""),
            *TEST_LEGEND]


def read_from(model, level: float) -> str:
    """Where a model's VaR/ES come from: its own distribution, or its paths at a cut-off (too few for the level's
    ES: said, and in the warnings)."""
    if model.paths is None:
        return "own dist."
    return f"{model.paths} paths" + ("" if model.enough_paths(level) else " (too few)")


def summary_table(bt, position: str, level: float) -> Table:
    """Per model at ``level`` for ``position``: exceptions, the coverage tests' p-values, the zone, the ES test's
    and each registered measure's p-value, where its VaR/ES are read from."""
    summary = bt.summary(level, position)
    frame = summary.reindex(columns=[*SUMMARY, *(f"{m.key}_p" for m in judged())])
    frame["read_from"] = [read_from(bt.models[key], level) for key in summary.index]
    return Table("summary", (f"{position} {level:g}: exceptions and test p-values",), worded(frame, model_names(bt)))


def each_test_table(bt, position: str, level: float) -> Table:
    """Every test of every model at ``level`` for ``position``: its statistic, p-value, degrees of freedom and the
    counts behind it."""
    tests = bt.tests[(bt.tests.position == position) & np.isclose(bt.tests.level, level)]
    return Table("tests", (f"Each test at {position} {level:g}:",),
                 worded(tests.drop(columns=["position", "level"]), model_names(bt), index=None))


def backtest_tables(done, positions=None, levels=None) -> list[Table]:
    """The tables of a risk backtest (``RiskBacktested``): per position and level (all, or those asked) the
    exceptions and test p-values of each model, its one verdict, the joint VaR/ES loss (FZ0) with Diebold–Mariano
    and the model confidence set, the variance forecasts' losses."""
    bt = done.backtest
    names = model_names(bt)
    reference = names.get(bt.walk.reference, bt.walk.reference)
    tables = [summary_table(bt, position, level) for position in positions or bt.settings.positions
              for level in levels or bt.settings.levels]
    verdicts = pd.DataFrame.from_dict({key: {"verdict": v["verdict"], "why": verdict_why(v)}
                                       for key, v in bt.verdicts.items()}, orient="index")
    tables.append(Table("verdicts", ("One verdict per model (every test, Holm-adjusted together at 5%):",),
                        worded(verdicts, names)))
    if len(bt.fz0):
        tables.append(Table("fz0", ("FZ0 loss of VaR and ES jointly (mean over positions and levels; lower is better);",
                                    f"DM: Diebold–Mariano against {reference}; MCS: the 90% model confidence set:"),
                            worded(bt.fz0.reindex(columns=list(FZ0)), names)))
    tables.append(Table("variance", (f"Variance forecasts against the realized ({bt.walk.proxy}): QLIKE and MSE (lower is "
                                     "better);", "MZ: Mincer–Zarnowitz (slope 1 when unbiased; p of intercept 0 and slope 1);",
                                     f"DM: Diebold–Mariano of QLIKE against {reference} (negative: lower loss); MCS: the 90% "
                                     "model confidence set:"),
                        worded(bt.volatility.reindex(columns=list(VARIANCE)), names)))
    return tables


def verdict_why(v: dict) -> str:
    """What counted against a verdict (``backtest.verdict``), what flagged it and where it does not speak."""
    said = v["against"] + v["flagged"] + ([untested_words(v["untested"])] if v["untested"] else [])
    return "; ".join(said) or MISSING


def untested_words(where) -> str:
    """What a verdict leaves out: the positions and levels where no test ran (their refusals are the notices)."""
    return f"no test ran at {', '.join(where)}: the verdict does not speak for {'it' if len(where) == 1 else 'them'}"


# --- a risk champion choice -----------------------------------------------------------------------------------
def champion_tables(body: dict) -> list[Table]:
    """The decision in words, then each candidate (by its name), best FZ0 first: its mean FZ0 and QLIKE, verdict
    and exceptions per position and level (``body``: ``desk.risk.champion_body`` of the choice, the numbers the
    JSON holds)."""
    rows = {}
    for key, c in sorted(body["candidates"].items(), key=lambda kv: (kv[1]["fz0"] is None, kv[1]["fz0"])):
        rows[key] = {"fz0": c["fz0"], "qlike": c["qlike"], "verdict": c["verdict"],
                     "exceptions": {k.removeprefix("exceptions_"): v for k, v in c.items()
                                    if k.startswith("exceptions_")}}
    said = (f"Risk champion: {body['decision']} ({body['challenger']} against {body['champion']}); serving: "
            f"{body['serving']}", body["reason"], *untested_lines(body["candidates"]),
            f"{body['cutoffs']} cut-offs, {body['horizon']}-bar horizon; FZ0 of VaR and ES (mean over positions and "
            "levels; lower is better), QLIKE of the variance:")
    names = {key: c["name"] or key for key, c in body["candidates"].items()}
    return [Table("candidates", said, worded(pd.DataFrame.from_dict(rows, orient="index"), names))]


def untested_lines(candidates: dict) -> list[str]:
    """A line per set of positions and levels that candidates' verdicts leave out, naming those candidates unless it is
    every one."""
    by: dict[tuple, list[str]] = {}
    for key, c in candidates.items():
        if c["untested"]:
            by.setdefault(tuple(c["untested"]), []).append(c["name"] or key)
    return [f"Verdicts: {untested_words(where)}" + ("" if len(names) == len(candidates) else f" ({', '.join(names)})")
            for where, names in by.items()]
