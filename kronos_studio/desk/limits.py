"""What one request (and one job) may ask of the desk: every limit and its default, here and nowhere else, and the
size checks the desk makes before any work. A face that serves others (``kronos serve``, ``kronos mcp``) builds its
desk with them (``Desk(limits=...)``); the command line and the app set none. Each limit is a setting named
``max_<field>`` (a ``kronos serve`` option, ``--max-<field>``, listed in docs/service.md). A request past one is
refused (``TooLarge``, a refusal of kind ``TOO_LARGE``: the HTTP API's 413) with the limit named and how to stay
inside it."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from kronos.errors import TOO_LARGE, Fix, UserError

LIMIT_PREFIX = "max_"  # a limit's setting: LIMIT_PREFIX + its field's name


class TooLarge(UserError):
    """A request past one of the desk's ``Limits``: what was asked and the limit, the fix naming its setting."""

    refusal = TOO_LARGE


def limit(default: int, help: str) -> int:
    """A limit's field: its default and what it bounds (the ``kronos serve`` option's help)."""
    return field(default=default, metadata={"help": help})


def setting(name: str) -> str:
    """A limit's setting (a ``kronos serve`` option: the command line names its flag)."""
    return f"{LIMIT_PREFIX}{name}"


def raise_fix(instead: str, name: str) -> Fix:
    """Stay inside limit ``name``, or have it raised (its setting, which each face names its own way)."""
    return Fix(f"{instead}, or raise {{setting}}", setting(name))


@dataclass(frozen=True)
class Limits:
    body_bytes: int = limit(16 * 2**20, "bytes of a request body (~300k CSV bars of OHLCV text)")
    bars: int = limit(100_000, "bars of one series (a forecast's, an evaluation's, each series of a batch)")
    horizon: int = limit(1_000, "steps of one forecast's horizon (a path samples them one after another)")
    path_steps: int = limit(100_000, "paths x horizon of one forecast, and quantile levels x horizon of its answer")
    quantiles: int = limit(99, "quantile levels of one forecast")
    cutoffs: int = limit(500, "cut-offs of one evaluation, or of an evaluating batch or a retrain's held-out set")
    evaluation_steps: int = limit(1_000_000, "cut-offs x (paths x horizon + covariates x bars aligned) of one "
                                             "evaluation or risk backtest")
    risk_readings: int = limit(10_000, "VaR/ES readings of one risk request: levels x positions x steps read (the "
                                       "horizon's, or every step's) x forecasts read (cut-offs x models of a backtest)")
    series: int = limit(200, "series of one batch or retrain request")
    job_steps: int = limit(20_000_000, "series x paths x horizon (x cut-offs, x decisions) of one job")
    train_steps: int = limit(2_000, "training steps of one retrain decision")
    decisions: int = limit(50, "retraining points (decisions) of one series in a retrain job")
    job_seconds: int = limit(600, "seconds a job may run: past them it stops at its next checkpoint and fails, "
                                  "freeing its thread")
    jobs_per_key: int = limit(2, "jobs of one API key queued or running at once")
    job_threads: int = limit(2, "jobs running at once, shared by the workspaces in turn (the others queue)")
    models: int = limit(4, "Kronos models kept loaded (the least recently used is dropped)")

    setting = staticmethod(setting)
    raise_fix = staticmethod(raise_fix)

    def over(self, name: str, asked: int, what: str, instead: str, values: dict | None = None) -> None:
        """``TooLarge`` when ``asked`` is over limit ``name``: '``what`` is over the limit of N', the fix ``instead``
        or a higher limit."""
        most = getattr(self, name)
        if asked > most:
            raise TooLarge(f"{what} is over the limit of {most}", {**(values or {}), setting(name): most},
                           raise_fix(instead, name))

    def check_bars(self, n: int) -> None:
        self.over("bars", n, f"{n} bars", "send fewer bars", {"bars": n})

    def check_csv_lines(self, text: str, series: str | None = None) -> None:
        """A bound checked before a CSV text is parsed, in one pass over it: more lines after the header
        than ``bars`` holds more bars than the limit (``check_bars`` counts a parsed series' bars)."""
        lines = text.rstrip("\r\n").count("\n")  # the lines after the first (the header)
        if lines > self.bars:
            where = f"series '{series}': " if series else ""
            self.over("bars", lines, f"{where}{lines} lines of CSV after its header", "send fewer bars",
                      {"lines": lines})

    def check_horizon(self, horizon: int) -> None:
        """The steps one path takes one after another, however few the paths."""
        self.over("horizon", horizon, f"a horizon of {horizon} steps", "ask for a shorter horizon", {"horizon": horizon})

    def check_path_steps(self, paths: int, horizon: int) -> None:
        """A forecast's sampling: its horizon (the steps one path takes in turn), and paths x horizon."""
        self.check_horizon(horizon)
        self.over("path_steps", paths * horizon, f"paths x horizon = {paths} x {horizon} = {paths * horizon}",
                  "ask for fewer paths or a shorter horizon", {"paths": paths, "horizon": horizon})

    def check_quantiles(self, levels: int, horizon: int) -> None:
        """The answer of a forecast holds levels x horizon numbers per field: both bounded."""
        self.check_horizon(horizon)
        self.over("quantiles", levels, f"{levels} quantile levels", "ask for fewer quantile levels",
                  {"quantiles": levels})
        self.over("path_steps", levels * horizon, f"quantile levels x horizon = {levels} x {horizon} = "
                  f"{levels * horizon}", "ask for fewer quantile levels or a shorter horizon",
                  {"quantiles": levels, "horizon": horizon})

    def check_evaluation(self, cutoffs: int, paths: int, horizon: int, covariates: int = 0, bars: int = 0) -> None:
        """An evaluation samples paths x horizon at each of its cut-offs, and lays each of its ``covariates`` on the
        target's ``bars`` there (read before the cut-off): both counted, one budget."""
        self.check_path_steps(paths, horizon)
        self.check_cutoffs(cutoffs)
        steps = cutoffs * (paths * horizon + covariates * bars)
        what = (f"cut-offs x (paths x horizon + covariates x bars) = {cutoffs} x ({paths} x {horizon} + {covariates} x "
                f"{bars}) = {steps}" if covariates else
                f"cut-offs x paths x horizon = {cutoffs} x {paths} x {horizon} = {steps}")
        self.over("evaluation_steps", steps, what,
                  "ask for fewer cut-offs, fewer paths or a shorter horizon" + (", or send fewer bars or covariates"
                                                                                if covariates else ""),
                  {"cutoffs": cutoffs, "paths": paths, "horizon": horizon,
                   **({"covariates": covariates, "bars": bars} if covariates else {})})

    def check_risk(self, levels: int, positions: int, steps: int, forecasts: int = 1) -> None:
        """A risk request reads VaR and ES at each level, for each position, at each step read, of each forecast."""
        readings = levels * positions * steps * forecasts
        self.over("risk_readings", readings, f"levels x positions x steps x forecasts = {levels} x {positions} x "
                  f"{steps} x {forecasts} = {readings}", "ask for fewer levels or positions, a shorter horizon (or "
                  "per_step off), or fewer cut-offs", {"levels": levels, "positions": positions, "steps": steps,
                                                       "forecasts": forecasts})

    def check_cutoffs(self, n: int, what: str = "cut-offs") -> None:
        self.over("cutoffs", n, f"{n} {what}", "ask for fewer cut-offs", {"cutoffs": n})

    def check_series(self, n: int) -> None:
        self.over("series", n, f"{n} series", "send fewer series (split the watchlist over several jobs)",
                  {"series": n})

    def check_job_steps(self, steps: int, what: str) -> None:
        self.over("job_steps", steps, f"{what} = {steps}", "split the job, or ask for fewer paths, cut-offs or "
                  "a shorter horizon")

    def check_training(self, steps: int, decisions: int | None = None) -> None:
        self.over("train_steps", steps, f"{steps} training steps", "ask for fewer steps", {"steps": steps})
        if decisions is not None:
            self.over("decisions", decisions, f"{decisions} retraining points", "decide less often (a larger "
                      "every) or on fewer bars", {"decisions": decisions})


def limit_settings() -> dict[str, str]:
    """Every limit's setting -> what it bounds (``kronos serve``'s options, the errors' server settings)."""
    return {setting(f.name): f.metadata["help"] for f in dataclasses.fields(Limits)}
