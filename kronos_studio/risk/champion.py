"""The risk champion: per series, the risk model its VaR, ES and variance are read from, chosen the way a forecast
champion is (``kronos_studio.training.gate``), and the default that serves a series without one.

A risk model is a model (one of the standard risk models, ``baselines``, or a catalog reference: the bundled
Kronos, the ensemble) with or without a recalibration (``recalibrate``): ``RiskModel``. ``choose`` backtests the
candidates on the latest cut-offs of the series, one horizon apart (each recalibrated one from outcomes before each
cut-off only, its state seeded on earlier warm-up cut-offs), scores each cut-off by the FZ0 loss of VaR and ES
(the mean over the positions and levels asked) and by QLIKE, and takes the one with the lowest mean FZ0 as the
challenger. It replaces the risk model serving now (the champion, else ``DEFAULT_RISK_MODEL``) only when the gate's
paired 95% bootstrap interval of the per-cut-off FZ0 difference lies wholly below 0 and its QLIKE is not worse
beyond noise (``gate.decide_losses``). ``record`` keeps the decision in the registry (kind ``risk_champion``: the
entry's base model is the risk model's label, its settings the model and recalibration, no weights) and each
recalibrated candidate's learnt state in ``risk_state``, so that the reading that follows starts from them.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from kronos.errors import Fix, InputError
from kronos.lazy import np, pd
from kronos.settings import ForecastSettings
from kronos_studio.training.gate import PROMOTED, decide_losses

from .backtest import qlike
from .baselines import risk_baselines
from .distribution import HorizonReturn
from .measures import RiskSettings
from .recalibrate import Recalibration, RecalState, read, served_vars, settle, tag
from .volatility import bar_variances
from .walk import RECALIBRATED, RiskBacktest, RiskWalk, risk_backtest

CHAMPION_CUTOFFS = 250  # cut-offs a choice is scored on (one horizon apart)
CHAMPION_WARMUP = 250  # earlier cut-offs seeding the recalibrated candidates' state
KEPT = "kept"  # the decision when the model serving now scores best


@dataclass(frozen=True)
class RiskModel:
    """A risk model: ``model`` (a standard risk model's key, ``baselines.risk_baselines``, or a catalog reference)
    read with ``recalibration`` (None: as it is)."""

    model: str
    recalibration: Recalibration | None = None

    @property
    def label(self) -> str:
        """Its key in a backtest: ``gjr_garch+recal``."""
        return self.model + (RECALIBRATED if self.recalibration is not None else "")

    @property
    def standard(self) -> bool:
        return self.model in risk_baselines()

    def describe(self, name: str | None = None) -> str:
        """In words: the model's name (``name``, else its key) and its recalibration."""
        return (name or self.model) + ("" if self.recalibration is None else
                                       f", recalibrated ({self.recalibration.describe()})")

    def to_settings(self) -> dict:
        return {"model": self.model,
                "recalibration": None if self.recalibration is None else self.recalibration.identity()}

    @classmethod
    def from_settings(cls, settings: dict) -> RiskModel:
        recal = settings.get("recalibration")
        return cls(settings["model"], None if recal is None else Recalibration(**recal))

    @classmethod
    def of_label(cls, label: str, recalibration: Recalibration) -> RiskModel:
        if label.endswith(RECALIBRATED):
            return cls(label[:-len(RECALIBRATED)], recalibration)
        return cls(label)

    def state_identity(self, model_identity: dict) -> str:
        """What its learnt state is kept under: the model as it is now (``model_identity``: the forecaster's
        identity) and its recalibration; another model or other constants start afresh."""
        blob = json.dumps({"model": self.model, "identity": model_identity, **self.to_settings()}, sort_keys=True,
                          default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]


# The default risk model (a series without a risk champion): chosen on the development series of
# scripts/measure_risk_champion.py, never on the held-back ones (docs/risk.md, "The default risk model"): of the
# standard models and their recalibrations, the one meeting the acceptance (99% exceptions no more than GJR-GARCH-t's,
# a 95% Kupiec p of 0.05 or more, QLIKE within 1% of the best standard model's) on the most of the 7 windows, the
# lowest mean FZ0 breaking ties: log-HAR, on 6 of 7, with the lowest FZ0 of every candidate.
DEFAULT_RISK_MODEL = RiskModel("log_har")
DEFAULT_WHY = ("the default risk model (no risk champion for this series yet): log-HAR on the range variance, read "
               "from its own standardized residuals, which met the risk desk's acceptance on the most development "
               "series with the lowest FZ0 loss (docs/risk.md)")


@dataclass
class RiskChampionDecision:
    """A choice between risk models on one series: the decision (``promoted``, ``rejected``, or ``kept`` when the
    model serving now scored best), the challenger (the lowest mean FZ0) and the champion it was set against (their
    labels), the reason in words, the scores, the backtest behind them and the recalibrated candidates' states."""

    decision: str
    challenger: str
    champion: str
    reason: str
    scores: dict
    backtest: RiskBacktest
    states: dict[str, RecalState] = field(default_factory=dict)

    @property
    def serving(self) -> str:
        """The label of the risk model that serves after the decision."""
        return self.challenger if self.decision == "promoted" else self.champion

    def to_dict(self) -> dict:
        return {"decision": self.decision, "challenger": self.challenger, "champion": self.champion,
                "serving": self.serving, "reason": self.reason, "scores": self.scores}


def utc(times) -> pd.DatetimeIndex:
    """Bar times in UTC (naive ones read as UTC), as the ledger keeps times."""
    ts = pd.DatetimeIndex(times)
    return ts.tz_convert("UTC") if ts.tz is not None else ts.tz_localize("UTC")


def per_cutoff_losses(bt: RiskBacktest) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(FZ0, QLIKE) per cut-off and model: the cut-offs where every model has both (a forecast that is no ES, or a
    zero realized variance, has none), in order."""
    fz = pd.DataFrame({k: m.frame["fz0"].to_numpy() for k, m in bt.models.items()})
    proxy = next(iter(bt.models.values())).frame["proxy"].to_numpy()
    keep = fz.notna().all(axis=1).to_numpy() & np.isfinite(proxy) & (proxy > 0)
    ql = pd.DataFrame({k: qlike(proxy[keep], m.frame["variance"].to_numpy()[keep]) for k, m in bt.models.items()})
    return fz[keep].reset_index(drop=True), ql


def choose(candidates: Mapping, bars, settings: ForecastSettings, risk: RiskSettings, current: RiskModel, *,
           cutoffs: int = CHAMPION_CUTOFFS, warmup: int = CHAMPION_WARMUP,
           recalibration: Recalibration = Recalibration(), include_trained: bool = False,
           own_window: Collection[str] = (), progress: Callable[[str, int, int], None] | None = None
           ) -> RiskChampionDecision:
    """Score ``candidates`` (key -> forecaster; each also recalibrated with ``recalibration``) on the latest
    ``cutoffs`` cut-offs of ``bars`` one horizon apart and set the best against ``current`` (the risk model serving
    now, which must be among them)."""
    if current.model not in candidates:
        raise InputError(f"the risk model serving now, {current.label}, is not among the candidates to set against "
                         "it", {"current": current.label, "candidates": list(candidates)},
                         Fix(f"include {current.model} among the candidates"))
    walk = RiskWalk(n_cutoffs=cutoffs, warmup=warmup, recalibrate=tuple(candidates), recalibration=recalibration,
                    include_trained=include_trained,
                    reference=current.model if current.model in candidates else RiskWalk.reference)
    bt = risk_backtest(candidates, bars, settings, risk, walk, progress, own_window)
    fz, ql = per_cutoff_losses(bt)
    if len(fz) < 2:
        raise InputError(f"only {len(fz)} cut-offs have an FZ0 loss for every candidate: no choice can be made",
                         {"cutoffs": len(fz)}, Fix("give more bars, or ask fewer {setting}", "cutoffs"))
    means, qlikes = fz.mean(), ql.mean()
    best, now = str(means.idxmin()), current.label
    scores = {"fz0": {k: float(v) for k, v in means.items()}, "qlike": {k: float(v) for k, v in qlikes.items()},
              "cutoffs": len(fz), "horizon": settings.horizon, "levels": list(risk.levels),
              "positions": list(risk.positions), "first": str(bt.models[best].frame["cutoff_time"].iloc[0]),
              "last": str(bt.models[best].frame["cutoff_time"].iloc[-1]), "challenger": best, "champion": now}
    states = {k: m.state for k, m in bt.models.items() if m.state is not None}
    if best == now:
        second = means.drop(now).idxmin()
        return RiskChampionDecision(KEPT, best, now, f"the risk model serving now, {now}, scores best: mean FZ0 "
                                    f"{means[now]:.4f} over {len(fz)} cut-offs (the next, {second}: "
                                    f"{means[second]:.4f})", scores, bt, states)
    d = decide_losses(fz[best].to_numpy(), fz[now].to_numpy(), "FZ0", (ql[best].to_numpy(), ql[now].to_numpy()),
                      "QLIKE")
    scores |= {"diff": d.diff, "diff_ci95": list(d.diff_ci95), "detectable": d.detectable,
               **{k: (list(v) if isinstance(v, tuple) else v) for k, v in d.coverage.items()}}
    reason = (f"{best} against {now}: mean FZ0 {means[best]:.4f} vs {means[now]:.4f}, QLIKE {qlikes[best]:.3f} vs "
              f"{qlikes[now]:.3f}; {d.reason}")
    return RiskChampionDecision(PROMOTED if d.decision == PROMOTED else "rejected", best, now, reason, scores, bt,
                                states)


def record(ledger, bars, decision: RiskChampionDecision, made_by: str, current_entry=None,
           identities: Mapping[str, dict] | None = None) -> object:
    """Keep ``decision`` in ``ledger``'s registry (a ``risk_champion`` entry for the challenger, promoted or
    rejected; nothing when the champion was kept) and every recalibrated candidate's learnt state (``identities``:
    model key -> its forecaster's identity). The entry serving afterwards (None: the default)."""
    from kronos_studio.ledger.registry import RISK_CHAMPION, Candidate, Registry, SeriesKey
    from kronos_studio.ledger.risk_state import RiskStates
    from kronos_studio.training.retrain import window_fingerprint

    series = SeriesKey.of(bars)
    recal = decision.backtest.walk.recalibration
    horizon = decision.backtest.horizon
    frame = bars.frame
    ts = utc(frame["timestamp"])
    last_bar = ts[decision.backtest.cutoffs[-1] + horizon - 1]
    states = RiskStates(ledger)
    for label, state in decision.states.items():
        model = RiskModel.of_label(label, recal)
        identity = (identities or {}).get(model.model, {})
        states.put(series, model.describe(), model.state_identity(identity), horizon,
                   {"state": state.to_dict(), "pending": [], "through": last_bar.isoformat()}, last_bar.to_pydatetime())
    registry = Registry(ledger)
    if decision.decision == KEPT:
        return current_entry
    model = RiskModel.of_label(decision.challenger, recal)
    used = frame.iloc[:decision.backtest.cutoffs[-1] + horizon]
    first = ts[decision.backtest.cutoffs[0] - 1]
    entry = registry.register(Candidate(
        series, model.label, model.state_identity((identities or {}).get(model.model, {})), first.to_pydatetime(),
        last_bar.to_pydatetime(), len(decision.backtest.cutoffs), window_fingerprint(used), "",
        {**model.to_settings(), "horizon": horizon, "levels": decision.scores["levels"],
         "positions": decision.scores["positions"]}, made_by, kind=RISK_CHAMPION,
        parent_id=None if current_entry is None else current_entry.id))
    if entry.status != "challenger":  # this window was decided before
        return registry.champion(series, RISK_CHAMPION)
    if decision.decision == "promoted":
        registry.promote(entry.id, decision.scores, decision.reason)
    else:
        registry.reject(entry.id, decision.scores, decision.reason)
    return registry.champion(series, RISK_CHAMPION)


# --- serving: a reading of the risk model serving a series, recalibrated by what it has learnt -------------------
@dataclass
class ServedRisk:
    """The VaR and ES the risk model serving a series gives now (its horizon return recalibrated by its state), which
    model that is and why (``why``: the champion's decision, or that it is the default), and what its recalibration
    has learnt (``learnt``: outcomes, exceptions, the tail probability each level is read at, the variance scale, the
    last bar learnt from)."""

    model: RiskModel
    name: str
    why: str
    champion: bool
    since: str | None
    entry_id: int | None
    horizon: int
    readings: list[dict]
    variance: float
    learnt: dict
    method: str
    notices: list = field(default_factory=list)

    def get(self, position: str, level: float) -> dict:
        return next(r for r in self.readings if r["position"] == position and np.isclose(r["level"], level))

    def to_dict(self) -> dict:
        return {"model": self.model.label, "name": self.name, "champion": self.champion, "why": self.why,
                "since": self.since, "entry_id": self.entry_id, "horizon": self.horizon, "var_es": self.readings,
                "variance": self.variance, "recalibration": None if self.model.recalibration is None else
                self.model.recalibration.identity(), "learnt": self.learnt, "method": self.method}


def settle_pending(state: RecalState, pending: list[dict], frame: pd.DataFrame, recal: Recalibration
                   ) -> tuple[RecalState, list[dict], pd.Timestamp | None, list[str]]:
    """The outcomes of earlier served readings (``pending``: each its cut-off's last bar ``at``, its last close, its
    horizon, the VaR served per position and level and the model's own variance) that ``frame`` now holds, learnt
    in order; (the state, the readings still waiting, the last bar learnt from, notes of readings dropped: their bar
    is not in these bars, or its close differs from the one they were read from, as after a split adjusted
    differently)."""
    ts = utc(frame["timestamp"])
    values = frame[["open", "high", "low", "close", "volume"]].to_numpy(np.float64)
    close = values[:, 3]
    waiting, notes, through = [], [], None
    for p in sorted(pending, key=lambda p: p["at"]):
        at = pd.Timestamp(p["at"])
        at = at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")
        i = int(ts.searchsorted(at))
        if i >= len(ts) or ts[i] != at:
            if at > ts[-1]:
                waiting.append(p)
            else:
                notes.append(f"the reading made at {at} is not in these bars: dropped")
            continue
        end = i + int(p["horizon"])
        if end >= len(ts):
            waiting.append(p)
            continue
        if not np.isclose(close[i], float(p["last_close"]), rtol=1e-6):
            notes.append(f"the reading made at {at} was of a close of {p['last_close']:g}, these bars have "
                         f"{close[i]:g} there (prices adjusted since?): dropped")
            continue
        realized = float(close[end] / close[i] - 1)
        variance = bar_variances(values[i + 1:end + 1], close[i]).of("close_to_close")
        state = settle(state, p["var"], float(p["variance"]), realized,
                       float(np.sum(variance)) if np.isfinite(variance).all() else float("nan"), recal)
        through = ts[end]
    return state, waiting, through, notes


def pending_reading(served: HorizonReturn, at, last_close: float, horizon: int, own_variance: float,
                    positions, levels) -> dict:
    """What an outcome of ``served`` will be judged against, kept until its horizon has ended."""
    at = pd.Timestamp(at)
    at = at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")
    return {"at": at.isoformat(), "last_close": float(last_close), "horizon": int(horizon),
            "var": served_vars(served, positions, levels), "variance": float(own_variance)}


def serve(model: RiskModel, base: HorizonReturn, stored: dict | None, frame: pd.DataFrame, horizon: int,
          risk: RiskSettings) -> tuple[HorizonReturn, dict, dict, list[str]]:
    """``base`` (the model's horizon return at the end of ``frame``) as ``model`` serves it from its ``stored`` state
    (``{"state", "pending", "through"}``; None: nothing learnt): the outcomes ``frame`` now holds are learnt first, then
    it is read, and this reading waits for its own outcome. A state that has learnt from an outcome after the last
    bar of ``frame`` (older bars read again) is not used: no reading reads a loss after its cut-off; it is read from
    nothing learnt, and the state is left as it was. (the served reading, the state to keep (empty: keep nothing),
    what it has learnt in numbers, the notes)."""
    recal = model.recalibration
    if recal is None:
        return base, {}, {}, []
    stored = stored or {}
    last = utc(frame["timestamp"].iloc[-1:])[0]
    known = stored.get("through")
    notes = []
    if known is not None and pd.Timestamp(known) > last:
        notes.append(f"its recalibration has learnt from outcomes up to {known}, after these bars' last bar ({last}): "
                     "read without it (no reading uses a loss after its cut-off)")
        stored, keeping = {}, False
    else:
        keeping = True
    state = RecalState.from_dict(stored.get("state"))
    state, waiting, through, dropped = settle_pending(state, list(stored.get("pending", [])), frame, recal)
    notes += dropped
    served = read(state, base, recal)
    mine = pending_reading(served, last, float(frame["close"].iloc[-1]), horizon, base.variance, risk.positions,
                           risk.levels)
    waiting = [p for p in waiting if p["at"] != mine["at"]] + [mine]  # the same reading asked again waits once
    through = max([t for t in (known if keeping else None, None if through is None else through.isoformat())
                   if t is not None], key=pd.Timestamp, default=None)
    keep = {"state": state.to_dict(), "pending": waiting, "through": through} if keeping else {}
    learnt = {"outcomes": state.outcomes, "exceptions": dict(state.exceptions),
              "tail_probability": {tag(p, a): served.tail_probability(p, a) for p in risk.positions for a in risk.levels},
              "variance_scale": served.factor, "waiting": len(waiting), "through": through}
    return served, keep, learnt, notes
