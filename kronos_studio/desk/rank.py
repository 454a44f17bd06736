"""Rank evaluation (``Desk.rank``): does the screen's ranking work on this watchlist? The cross-sectional
walk-forward (``kronos_studio.batch.rank_run``: IC, rank IC with Newey–West intervals, spreads after costs, naive
rankings, one score per path count) as ``kronos batch --evaluate``, ``POST /v1/batch`` with ``evaluate`` and the
Screener's "Does the ranking work?" ask for it: one ``RankRequest`` in (the watchlist, the forecast's settings, the
knob'd ``RankPlan``, the model), one ``Ranked`` out. The forecaster is the desk registry's, sampled in the
workspace's turns, whichever face asks."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from kronos.errors import Fix, InputError, Notice
from kronos.settings import ForecastSettings
from kronos_studio.batch.engine import BatchRun, one_model_for_every_series
from kronos_studio.batch.rank_plan import RankPlan
from kronos_studio.batch.rank_run import RankResult, evaluate_watchlist
from kronos_studio.batch.watchlist import Entry
from kronos_studio.evaluation.rank_skill import per_date_ic, quantile_returns, scaling_table

from .screen import Engine, bars_knob


@dataclass(frozen=True)
class RankRequest:
    """A rank evaluation: the watchlist's ``entries``, the forecast's ``settings`` (its horizon, seed, lookback and
    sampling knobs; its paths are each of ``plan.paths`` in turn), the ``plan`` (cut-offs, step, path counts, costs,
    the training-period switch), the model (None: the bundled default), how every series is read and where the
    forecasts run."""

    entries: tuple[Entry, ...]
    settings: ForecastSettings
    plan: RankPlan = RankPlan()
    model: str | None = None
    fixes: tuple[str, ...] = bars_knob("fixes")
    calendar: str | None = bars_knob("calendar")
    engine: Engine = Engine()
    device: object = None

    def __post_init__(self):
        object.__setattr__(self, "entries", tuple(self.entries))
        object.__setattr__(self, "fixes", tuple(self.fixes or ()))
        if self.plan.run is not None:  # where it runs is the request's engine, said once
            raise InputError("a rank request's plan names no engine: give it as the request's engine",
                             fix=Fix("set {setting} on the request", "engine"))


@dataclass
class Ranked(RankResult):
    """The report (``rank_skill.rank_report`` with what was left out and the run's settings), the per-(path count,
    date, series) panel and the series without bars (``RankResult``), and what every face shows beside them."""

    notices: list[Notice] = field(default_factory=list)

    def at_most_paths(self):
        """The panel's rows at the largest path count (what the charts read)."""
        panel = self.panel.panel
        return panel[panel["paths"] == self.report["paths"][-1]]

    def ics(self, signal: str = "expected_log_return"):
        """IC and rank IC of ``signal`` per cut-off date, at the largest path count (``rank_skill.per_date_ic``)."""
        return per_date_ic(self.at_most_paths(), signal)

    def buckets(self, signal: str = "expected_log_return"):
        """The mean forward log return per bucket of ``signal``, at the largest path count (1: ranked lowest)."""
        return quantile_returns(self.at_most_paths(), signal)

    def by_paths(self, signal: str = "expected_log_return"):
        """Rank IC of ``signal`` with its 95% interval at each path count (``rank_skill.scaling_table``)."""
        return scaling_table(self.report, signal)


def check(desk, request: RankRequest) -> None:
    """What is refused before any series is read (a job's face asks before the job starts): an empty watchlist,
    and the size within the face's limits (none on the command line and in the app). Each date samples the most
    paths asked (the smaller counts are runs of their own, each within that)."""
    plan, horizon, n = request.plan, request.settings.horizon, len(request.entries)
    if not n:
        raise InputError("the watchlist has no series", fix=Fix("add series to the watchlist"))
    if desk.limits is not None:
        paths = plan.paths[-1]
        desk.limits.check_path_steps(paths, horizon)
        desk.limits.check_cutoffs(plan.cutoffs)
        desk.limits.check_job_steps(n * plan.cutoffs * paths * horizon, f"series x cut-offs x paths x horizon = "
                                                                      f"{n} x {plan.cutoffs} x {paths} x {horizon}")


def rank(desk, request: RankRequest, *, progress=None, workspace: str | None = None) -> Ranked:
    """The cross-sectional walk-forward of ``request`` by its model from the desk's registry, sampled run by run in
    ``workspace``'s turns (Ray actors load their own); ``progress(done, total)``: forecast runs done."""
    one_model_for_every_series(request.model)
    check(desk, request)
    plan = request.plan
    settings = dataclasses.replace(request.settings, paths=plan.paths[-1])
    if request.engine.engine != "local":
        e = request.engine
        plan = dataclasses.replace(plan, run=BatchRun(model=request.model, engine=e.engine, ray_address=e.ray_address,
                                                      workers=e.workers, device=request.device))
    forecaster = desk.registry.in_turn(desk.registry.forecaster(request.model, None, settings, workspace),
                                       request.model, workspace)
    done = evaluate_watchlist(forecaster, list(request.entries), settings, plan,
                              {"fixes": request.fixes, "calendar": request.calendar}, progress)
    notices = [Notice(f"{name} left out: {why}") for name, why in done.failed.items()]
    return Ranked(done.panel, done.report, done.failed, notices)


def versus_naive(report: dict, signal: str = "expected_log_return") -> list[tuple[str, dict, str | None]]:
    """The model's ``signal`` ranking at the largest path count against each naive ranking, as every face words it:
    (the naive ranking, the paired comparison, the verdict: 'beats' when the rank IC difference's 95% interval is
    above 0, 'is beaten by' when below, 'does not beat' when it holds 0; None: too few dates with both ICs for an
    interval)."""
    out = []
    for name, vs in report["versus_baselines"][str(report["paths"][-1])][signal].items():
        lo, hi = vs["rank_ic_diff_ci95"]
        verdict = None if lo is None or hi is None else "beats" if vs["beats"] else \
            "does not beat" if hi > 0 else "is beaten by"
        out.append((name, vs, verdict))
    return out
