"""What one request (and one job) may ask of the service: every limit and its default, here and nowhere else.
Each is a ``kronos serve`` option named after its setting (``max_<field>``, ``--max-<field>``) and listed in
docs/service.md. A request past a limit is answered 413 (too large) or 429 (too many jobs) before any work,
with the limit named and how to stay inside it."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from kronos.errors import Fix, worded

from .errors import LIMIT_PREFIX, ServiceError, field_name


def limit(default: int, help: str) -> int:
    """A limit's field: its default and what it bounds (the ``kronos serve`` option's help)."""
    return field(default=default, metadata={"help": help})


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

    @staticmethod
    def setting(name: str) -> str:
        """A limit's setting (a ``kronos serve`` option: the command line names its flag)."""
        return f"{LIMIT_PREFIX}{name}"

    def over(self, name: str, asked: int, what: str, instead: str, values: dict | None = None) -> None:
        """413 when ``asked`` is over limit ``name``: '``what`` = asked is over the limit of N', the fix
        ``instead`` or a higher limit."""
        most = getattr(self, name)
        if asked > most:
            raise ServiceError(413, problem=f"{what} is over the limit of {most}",
                               values={**(values or {}), self.setting(name): most},
                               fix=(self._raise(instead, self.setting(name)),))

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

    def body_lines(self, path: str) -> int | None:
        """Line breaks of CSV text a request body to ``path`` may hold (its series' bars, a header and a last
        line break each), counted as the body streams in (``body_limit``); None: not counted."""
        if path in ONE_SERIES_PATHS:
            return self.bars + 1
        if path in MANY_SERIES_PATHS:
            return self.series * (self.bars + 1)
        return None

    def too_many_lines(self, most: int) -> str:
        return worded(f"the request's CSV text holds more than {most} lines, more bars than the limit of "
                      f"{self.bars} per series", (self._raise("send fewer bars", self.setting("bars")),), field_name)

    def body_too_large(self) -> str:
        return worded(f"the request body is over the limit of {self.body_bytes} bytes",
                      (self._raise("send fewer bars", self.setting("body_bytes")),), field_name)

    @staticmethod
    def _raise(instead: str, setting: str) -> Fix:
        """Stay inside the limit, or have it raised (a ``kronos serve`` option: the command names its flag)."""
        return Fix(f"{instead}, or raise {{setting}}", setting)

    def job_overtime(self) -> str:
        """Why a job that ran past ``job_seconds`` failed, and how to stay inside it."""
        return worded(f"the job ran past the limit of {self.job_seconds} seconds and was stopped",
                      (self._raise("split it into smaller jobs (fewer series, cut-offs, paths or training steps)",
                                   self.setting("job_seconds")),), field_name)

    def too_many_jobs(self, running: int) -> str:
        return (f"this key has {running} jobs queued or running, the limit of {self.jobs_per_key} per key "
                f"({self.setting('jobs_per_key')}): wait for one to finish (GET /v1/jobs/{{id}}) or cancel one "
                "(DELETE /v1/jobs/{id})")



ONE_SERIES_PATHS = ("/v1/forecast", "/v1/evaluate", "/v1/ledger/score")  # a body of one series' CSV text
MANY_SERIES_PATHS = ("/v1/batch", "/v1/retrain")  # up to ``series`` of them


def limit_settings() -> dict[str, str]:
    """Every limit's setting -> what it bounds (``kronos serve``'s options, the errors' server settings)."""
    return {Limits.setting(f.name): f.metadata["help"] for f in dataclasses.fields(Limits)}
