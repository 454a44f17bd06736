"""The risk measures, one registry: what a measure is called, the columns it gives (names built here, never read
back from a prefix), how it is read from a position's draws of a loss at a level, and how a realized loss judges
it. VaR and ES are read together by ``measures.tail_risk`` (with their Monte-Carlo errors); a measure added with
``register`` gives its ``read`` of the losses, and is then a field of every reading (``TailRisk.more``), a column
of the Screener's rows (``batch.summary.risk_summary``) and of the ledger's risk record
(``record.reading_columns``), and a column the Screener labels (``screen_columns``). With a ``judge`` it is also
tested: in every risk backtest (a test of each model's verdict, ``walk``) and on the ledger's recorded forecasts
(its p-value beside the VaR's, ``record``)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kronos.lazy import np

from .backtest import TestResult


def percent_text(level: float) -> str:
    """A level as the Screener's columns write it: '99' for 0.99, '97.5' for 0.975."""
    return f"{round(level * 100, 6):g}"


@dataclass(frozen=True)
class RiskMeasure:
    """A risk measure of one position's return over the horizon, at a level. ``help`` is the Screener's
    description, formatted with ``position``, ``level`` (in percent), ``beyond`` (100 - level) and ``column``."""

    key: str  # its columns' stem: var_long_99 (a row), var_long_0.99 (the record's, the backtest's)
    label: str  # VaR
    title: str  # value-at-risk
    help: str
    # its reading of a position's draws of a loss at a level; None: read by ``measures.tail_risk`` (VaR and ES)
    read: Callable[[np.ndarray, float], float] | None = None
    details: tuple[tuple[str, str], ...] = ()  # (column suffix, reading field) the downloads add beside it
    record_details: tuple[str, ...] = ()  # reading fields the risk record keeps beside it ('tail_paths')
    exceptions: bool = False  # a realized loss beyond it is an exception, counted and tested (Kupiec, Christoffersen)
    served: bool = False  # a risk model serving a series reads it too (the Screener's risk-model columns)
    # how the losses that happened judge its values at a level: (losses [n], its values [n], level) -> a test (named
    # by its key where it is shown) whose p-value joins each model's verdict in a risk backtest and the ledger's
    # record (``{key}_p``); None: VaR's and ES's own battery (``backtest.var_tests``, DQ, Z2) judges them, a
    # registered measure is then read and shown only
    judge: Callable[[np.ndarray, np.ndarray, float], TestResult] | None = None

    def column(self, position: str, level: float, served: bool = False) -> str:
        """A row's column: ``var_long_99`` for a long position's 0.99 VaR (``served_var_long_99``: the risk model's)."""
        return f"{'served_' if served else ''}{self.key}_{position}_{percent_text(level)}"

    def tagged(self, position: str, level: float) -> str:
        """The risk record's and the backtest's column: ``var_long_0.99``."""
        return f"{self.key}_{position}_{level:g}"

    def value(self, reading) -> float:
        """Its value in a ``measures.TailRisk``."""
        return getattr(reading, self.key) if self.read is None else reading.more[self.key]


VAR = RiskMeasure(
    "var", "VaR", "value-at-risk",
    "Value-at-risk of a {position} position over the horizon: the loss (share of its value) that {beyond}% of the "
    "paths exceed; its Monte-Carlo error is {column}_se in the downloads",
    details=(("_se", "var_se"),), exceptions=True, served=True)
ES = RiskMeasure(
    "es", "ES", "expected shortfall",
    "Expected shortfall of a {position} position over the horizon: the mean loss of the paths at or beyond the "
    "{level}% VaR; its error and the paths it rests on are {column}_se and {column}_tail_paths in the downloads",
    details=(("_se", "es_se"), ("_tail_paths", "tail_paths")), record_details=("tail_paths",), served=True)

MEASURES: dict[str, RiskMeasure] = {m.key: m for m in (VAR, ES)}  # a new measure: ``register``


def register(measure: RiskMeasure) -> RiskMeasure:
    """Add ``measure`` (with its ``read``) to every risk reading, Screener row and risk record."""
    if measure.key in MEASURES or measure.read is None:
        raise ValueError(f"'{measure.key}' is a risk measure already, or has no reading of the losses")
    MEASURES[measure.key] = measure
    return measure


def judged() -> list[RiskMeasure]:
    """The registered measures a backtest and the ledger's record test by their ``judge``."""
    return [m for m in MEASURES.values() if m.judge is not None]


def read_more(losses: np.ndarray, level: float) -> dict[str, float]:
    """The registered measures besides VaR and ES read from ``losses`` (its finite draws) at ``level``, by key."""
    more = [m for m in MEASURES.values() if m.read is not None]
    if not more:  # the usual case: no copy of the draws at every cut-off, position and level of a backtest
        return {}
    losses = np.asarray(losses, np.float64)
    losses = losses[np.isfinite(losses)]
    return {m.key: float(m.read(losses, level)) for m in more}


@dataclass(frozen=True)
class ScreenColumn:
    """A risk column the Screener shows: its name in the rows and its label and help for people."""

    name: str
    label: str
    help: str


def screen_columns(positions, levels) -> list[ScreenColumn]:
    """The Screener's risk-measure columns for ``positions`` and ``levels``: the serving risk model's readings,
    then each measure read from the paths (their errors and tail paths are in the downloads only)."""
    served = [ScreenColumn(m.column(p, a, served=True), f"{m.label} {percent_text(a)}% {p} (risk model)",
                           f"The {m.title} of a {p} position over the horizon, as the risk model serving the series "
                           "reads it")
              for p in positions for a in levels for m in MEASURES.values() if m.served]
    own = [ScreenColumn(m.column(p, a), f"{m.label} {percent_text(a)}% {p}",
                        m.help.format(position=p, level=percent_text(a), beyond=f"{100 - float(percent_text(a)):g}",
                                      column=m.column(p, a)))
           for p in positions for a in levels for m in MEASURES.values()]
    return served + own


def row_prefixes() -> tuple[str, ...]:
    """What a batch row's risk columns start with: each measure's stem, the volatility's and the notes'."""
    return (*(f"{m.key}_" for m in MEASURES.values()), "vol_", "risk_")
