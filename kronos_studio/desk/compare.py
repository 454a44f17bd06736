"""Compare's backtest (``Desk.compare_backtest``): two or more models on the same bars, settings and seeds, walked
forward (``evaluation.walk_forward``) over the shown cut-off and up to K - 1 earlier ones, one horizon apart, with
the random walk on the same cut-offs, history windows and seeds. The shown cut-off comes first, so it gets the
settings' seed, and every cut-off's forecast is ``Desk.forecast``'s of the bars up to it (kept alike): the shown
one is exactly the forecast the same bars, settings and seed give anywhere."""
from __future__ import annotations

import dataclasses
import datetime
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from kronos.errors import Fix, InputError, Notice
from kronos.lazy import pd
from kronos.settings import Bounds, ForecastSettings, check_bounds, knob
from kronos_studio.catalog.resolve import ModelRef
from kronos_studio.evaluation.baselines import RandomWalk
from kronos_studio.evaluation.training_period import trained_on
from kronos_studio.evaluation.walk_forward import EvalResult, WalkForward, last_cutoffs, walk_forward
from kronos_studio.forecasters.base import Forecaster

from .cache import result_key
from .requests import ForecastRequest

MIN_NOISE_CUTOFFS = 5  # fewer cut-offs than this: a comparison's verdict does not judge noise at all


@dataclass(frozen=True)
class ComparePlan:
    """What a compare backtest decides beyond the forecast's settings: how many cut-offs its noise check rests on."""

    n_cutoffs: int = knob(8, Bounds(ge=1), label="Cut-offs for the noise check", low=1, high=30, setting="cutoffs",
                          help="this cut-off and the ones before it, one horizon apart: a difference is called beyond "
                               f"noise only when it holds across them (at least {MIN_NOISE_CUTOFFS}); 1: this cut-off "
                               "only")

    def __post_init__(self):
        check_bounds(self)


@dataclass(frozen=True)
class CompareBacktestRequest:
    """Models compared on a cut-off: the series' ``bars`` (a ``BarsRequest``, ``Gated`` bars or bars: its history and
    the bars after the cut-off), the ``models`` (references or ``ModelRef``s; each result is keyed by its label), the
    forecast's ``settings`` (every model's, an explicit lookback included), the ``cutoff`` (the last bar the models
    see: a date means its last bar; None: the last bar with a full horizon after it), the ``plan``, and whose
    forecasts and results (``workspace``)."""

    bars: object
    models: tuple
    settings: ForecastSettings
    cutoff: object = None
    plan: ComparePlan = ComparePlan()
    workspace: str | None = None


@dataclass
class CompareWindow:
    """What a compare backtest reads: the bars up to the cut-off (``history``, what the models see) and the horizon's
    bars after it (``actual``, what they are scored on), with the bars' notices."""

    history: object
    actual: pd.DataFrame
    notices: list[Notice] = field(default_factory=list)


@dataclass
class CompareBacktested:
    """Each model's walk-forward by label (``results``), on ``cutoffs`` (row positions in history + actuals, the
    shown cut-off first), the random walk's on the same cut-offs and seeds with its paths (``baseline``), each
    model's forecast of the shown cut-off (``shown``: what the charts draw), the models that could not run
    (``errors``: label -> the exception, worded by the face), the bars' notices then one per model with cut-offs
    inside its training period (``values``' ``model`` names it), and whether it was kept."""

    cutoffs: list[int]
    results: dict[str, EvalResult]
    baseline: EvalResult
    shown: dict[str, object]
    window: CompareWindow
    errors: dict[str, Exception] = field(default_factory=dict)
    notices: list[Notice] = field(default_factory=list)
    from_cache: bool = False


def label(model) -> str:
    """The name a model's results go under: a ``ModelRef``'s label, else its reference."""
    return model.label if isinstance(model, ModelRef) else str(model)


def window(desk, request: CompareBacktestRequest, ways: str | None = None) -> CompareWindow:
    """The bars up to ``request.cutoff`` and the horizon's bars after it; an ``InputError`` when fewer than a horizon
    of bars follow it, or none precedes it."""
    gated = desk._gated(request.bars, ways)
    bars, horizon = gated.bars, request.settings.horizon
    frame = bars.frame
    end = cut_position(frame["timestamp"], request.cutoff, horizon)
    actual = frame.iloc[end:end + horizon].reset_index(drop=True)
    if end < 1:
        raise InputError(f"no bar lies on or before the cut-off {request.cutoff}", {"cutoff": str(request.cutoff)},
                         Fix("pick a later {setting}", "cutoff"))
    if len(actual) < horizon:
        raise InputError(f"not enough bars after the cut-off: {len(actual)} of the {horizon} the horizon scores",
                         {"cutoff": str(request.cutoff), "after": len(actual), "horizon": horizon},
                         (Fix("pick an earlier {setting}", "cutoff"), Fix("or shorten {setting}", "horizon")))
    return CompareWindow(bars.replace(frame=frame.iloc[:end].reset_index(drop=True)), actual, list(gated.notices))


def cut_position(times: pd.Series, cutoff, horizon: int) -> int:
    """The number of bars up to and including ``cutoff`` (a date: its last bar; a time: the bars at or before it;
    None: all but the last horizon)."""
    if cutoff is None:
        return len(times) - horizon
    if isinstance(cutoff, datetime.date) and not isinstance(cutoff, datetime.datetime):
        return int((times.dt.date <= cutoff).sum())
    at = pd.Timestamp(cutoff)
    if at.tzinfo is None and times.dt.tz is not None:
        at = at.tz_localize(times.dt.tz)
    return int((times <= at).sum())


class _KeptForecasts(Forecaster):
    """A forecaster over ``Desk.forecast``: each cut-off's forecast is the desk's of the bars up to it (all of them,
    so it is the one any face keeps for those bars), those settings and that seed."""

    def __init__(self, desk, bars, frame: pd.DataFrame, model, workspace, ledger, progress):
        self.desk, self.bars, self.frame, self.model = desk, bars, frame, model
        self.workspace, self.ledger, self.progress = workspace, ledger, progress
        self.key, self.name = label(model), label(model)
        self.made: dict[int, object] = {}  # Forecast by seed

    def lookback(self, horizon: int) -> int:
        raise InputError("a backtest reads the same history window with every model: it needs an explicit lookback",
                         fix=Fix("give {setting}", "lookback"))

    def describe(self) -> dict:
        return {"model": self.name}

    def sample(self, history: pd.DataFrame, future: pd.DatetimeIndex, settings, progress=None):
        upto = self.frame[self.frame["timestamp"] <= history["timestamp"].iloc[-1]]
        done = self.desk.forecast(ForecastRequest(self.bars.replace(frame=upto.reset_index(drop=True)), self.model,
                                                  settings, self.workspace, future), ledger=self.ledger)
        self.made[int(settings.seed)] = done.forecast
        return done.forecast


class _NotKept(Exception):
    """A backtest with a failed model: raised through the result cache, which keeps no failures, so that the next
    request tries that model again."""

    def __init__(self, backtest: CompareBacktested):
        self.backtest = backtest


def backtest_key(desk, request: CompareBacktestRequest, history, actual: pd.DataFrame, ledger) -> str:
    """The kept backtest's key: the bars the models see and those they are scored on, every model now, the settings,
    the plan and the workspace."""
    after = hashlib.sha256(pd.util.hash_pandas_object(actual, index=False).to_numpy().tobytes()).hexdigest()[:16]
    identities = [desk._identity(m, history, request.workspace, ledger)[1] for m in request.models]
    return result_key("compare backtest", history, identities, request.settings, request.workspace, actual=after,
                      plan=dataclasses.asdict(request.plan))


def compare_backtest(desk, request: CompareBacktestRequest, *, ledger=None,
                     progress: Callable[[str, int, int], None] | None = None,
                     ways: str | None = None) -> CompareBacktested:
    """Walk every model of ``request`` forward over the shown cut-off and up to ``plan.n_cutoffs`` - 1 earlier ones,
    one horizon apart, each with a full lookback, and the random walk on the same cut-offs; kept unless a model
    failed (each failure said in ``errors``, the others standing). ``progress(label, i, n)``: per cut-off of each
    model. An ``InputError`` when the settings name no lookback or the shown cut-off has too little history."""
    if request.settings.lookback is None:  # the baseline must read the same window as the models
        raise InputError("a backtest reads the same history window with every model: it needs an explicit lookback",
                         fix=Fix("give {setting}", "lookback"))
    seen = window(desk, request, ways)
    try:
        done, hit = desk._kept(lambda: backtest_key(desk, request, seen.history, seen.actual, ledger),
                               lambda: _backtest(desk, request, seen, ledger, progress))
    except _NotKept as e:
        done, hit = e.backtest, False
    return dataclasses.replace(done, notices=seen.notices + done.notices, from_cache=hit)


def kept_compare_backtest(desk, request: CompareBacktestRequest, *, ledger=None) -> CompareBacktested | None:
    """What ``compare_backtest`` would answer from the cache now (None: it would compute), no model loaded."""
    if desk.cache is None:
        return None
    seen = window(desk, request)
    kept = desk.cache.peek(backtest_key(desk, request, seen.history, seen.actual, ledger))
    return None if kept is None else dataclasses.replace(kept, notices=seen.notices + kept.notices, from_cache=True)


def _backtest(desk, request: CompareBacktestRequest, seen: CompareWindow, ledger, progress) -> CompareBacktested:
    settings, history = request.settings, seen.history
    horizon, lookback = settings.horizon, settings.lookback
    frame = pd.concat([history.frame, seen.actual[list(history.frame.columns)]], ignore_index=True)
    # The shown cut-off first: walk_forward gives cut-off i the seed settings.seed + i.
    cutoffs = last_cutoffs(len(frame), horizon, request.plan.n_cutoffs, spacing=horizon, min_history=lookback)[::-1]
    if cutoffs[0] != len(history):
        raise InputError(f"the shown cut-off needs {lookback} bars before it; there are {len(history)}",
                         {"lookback": lookback, "bars": len(history)},
                         (Fix("lower {setting}", "lookback"), Fix("or pick a later {setting}", "cutoff")))
    results, shown, errors, notices = {}, {}, {}, []
    for model in request.models:
        name = label(model)
        made = _KeptForecasts(desk, history, frame, model, request.workspace, ledger, progress)
        try:
            results[name] = walk_forward(made, frame, settings, cutoffs,
                                         progress=(lambda i, n, _name=name: progress(_name, i, n)) if progress else None)
        except Exception as e:  # one model failing (an offline download, a refusal) leaves the others standing
            errors[name] = e
            continue
        shown[name] = made.made[settings.seed]
        notices += in_training(desk, model, history, settings, request.workspace, ledger, frame, results[name])
    baseline = walk_forward(RandomWalk(), frame, settings, cutoffs, WalkForward(keep_paths=True))
    out = CompareBacktested(cutoffs, results, baseline, shown, seen, errors, notices)
    if errors:  # a failed model (e.g. offline) is tried again on the next request
        raise _NotKept(out)
    return out


def in_training(desk, model, bars, settings, workspace, ledger, frame: pd.DataFrame, result: EvalResult) -> list[Notice]:
    """A notice when some of ``model``'s cut-offs forecast bars inside its training period: how many, which period."""
    served, _ = desk._identity(model, bars, workspace, ledger)
    period = desk.forecaster(model, bars, settings, workspace, served).training_period()
    inside = trained_on(period, frame["timestamp"].iloc[result.cutoffs])
    if not inside.any():
        return []
    name = label(model)
    return [Notice(f"{int(inside.sum())} of {len(inside)} cut-offs forecast bars inside the training period of {name} "
                   f"({period.describe()}): its scores there partly measure memory",
                   values={"model": name, "in_training_period": int(inside.sum())})]
