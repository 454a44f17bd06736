"""Rolling, gated fine-tuning of one series: train a LoRA challenger on the latest bars before a retraining
point, score it against the series' champion (or the base model) on held-out cut-offs after its data, and
let the gate (``gate.decide``) say whether it serves; every decision is kept in the registry
(``kronos_studio.ledger.registry``).

At a retraining point ``at`` (bars ``[0, at)`` are all a decision may read):

    [ ...... training window: window bars (the last VAL_FRACTION validates) ...... | held-out cut-offs ] at
                                                                                     n_cutoffs x horizon

The held-out cut-offs get Evaluate's training-period guard: those whose forecast starts inside the base model's
training period are left out unless ``include_training_period`` (then scored and flagged), and a decision left
with fewer than ``MIN_GATE_CUTOFFS`` is refused before anything is trained. With them included, a decision with
fewer than ``MIN_GATE_CUTOFFS`` cut-offs after the period rests on in-sample evidence: it is decided and recorded,
and its challenger promoted only with ``promote_in_sample`` (a second confirmation).

Safe from cron: a lock per series (``SeriesLocked`` when another run holds it), the adapter is written to a
temporary folder and renamed before it is registered (a killed run leaves no entry pointing at half-written
files; the next run removes the leftovers), and a window already decided is not trained again.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kronos.errors import Fix
from kronos.lazy import np, pd
from kronos.settings import ForecastSettings
from kronos_studio.bundled import default_model_path
from kronos_studio.evaluation.training_period import INCLUDE_TRAINING_PERIOD, trained_on
from kronos_studio.evaluation.trust import TrainingPeriodError
from kronos_studio.evaluation.walk_forward import compare
from kronos_studio.events import EventBuilder
from kronos_studio.forecasters.kronos import KronosForecaster
from kronos_studio.forecasters.period import training_period
from kronos_studio.ledger.registry import Candidate, Entry, Registry, SeriesKey
from kronos_studio.ledger.schema import CHALLENGER, LIVE
from kronos_studio.ledger.scoring import frame_fingerprint
from kronos_studio.training.datasets import Series, TimeSplit, build_train_data
from kronos_studio.workspaces import workspace_path

from .gate import MIN_GATE_CUTOFFS, PROMOTED, REJECTED, decide
from .retrain_settings import VAL_FRACTION, RetrainError, RetrainSettings

MADE_BY = "kronos retrain"  # what a registry entry records as its maker when its caller names none
SKIPPED = "skipped"  # a decision already made for this window


def cutoff_forecaster(pair, events=None):
    """Kronos on ``pair`` (an adapter's events builder with it) behind the seam, as the gate walks it forward:
    one random stream per cut-off, as each forecast would sample."""
    from kronos.pipeline import KronosPipeline

    forecaster = KronosForecaster(KronosPipeline(pair), events)
    forecaster.batch_size = 1
    return forecaster


class SeriesLocked(RuntimeError):
    """Another retrain of the same series holds its lock."""


@dataclass
class Report:
    """What a retrain run decided: one entry per retraining point, and the champion afterwards."""

    decisions: list[dict] = field(default_factory=list)
    champion: int | None = None

    def to_dict(self) -> dict:
        return {"decisions": self.decisions, "champion": self.champion}


def adapter_events(interval: str | None):
    """The event inputs a registry adapter is trained and forecasts with: no calendar (the adapter learns the
    series alone), so its event embedding adds the same learned constant at training and at forecast time."""
    return EventBuilder(None, interval=interval or None)


# --- the series' lock and its folder -----------------------------------------------------------------------
READABLE_CHARS = 80  # of a series' folder name before its hash: enough to recognise it in a listing


def adapters_folder(series: SeriesKey, workspace: str, replay: str = LIVE) -> Path:
    """The folder of ``series``' adapters and its retrain lock, in ``workspace``'s own folder
    (``workspaces.workspace_path``), named by the series and a hash of the whole identity: no two series or
    workspaces share one, whatever their names hold ('-' is legal in both; '/' and '_' are made one when the
    name is made safe); a replay's (``replay``: its label) are its own too."""
    identity = json.dumps([workspace, series.source, series.symbol, series.interval,
                           *([replay] if replay != LIVE else [])])  # the live folders named as before
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{series.source}-{series.symbol}-{series.interval}")
    return workspace_path("adapters", workspace) / "registry" / f"{readable[:READABLE_CHARS]}-{digest}"


def series_lock(series: SeriesKey, workspace: str, replay: str = LIVE):
    """An exclusive lock on the series' retraining (a file lock the OS drops when its process dies);
    ``SeriesLocked`` at once when another process holds it."""
    from filelock import FileLock, Timeout

    folder = adapters_folder(series, workspace, replay)
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / ".retrain.lock"), timeout=0)

    @contextmanager
    def held():
        try:
            lock.acquire()
        except Timeout:
            raise SeriesLocked(f"another retrain of {series} (workspace '{workspace}') is running (lock "
                               f"{folder / '.retrain.lock'}): wait for it to finish") from None
        try:
            yield
        finally:
            lock.release()

    return held()


def window_fingerprint(frame: pd.DataFrame) -> str:
    """The ledger's history fingerprint of every bar in ``frame`` (times and OHLC): ``scoring.frame_fingerprint``."""
    return frame_fingerprint(frame)


def check_history(frame: pd.DataFrame, entry: Entry) -> None:
    """Refuse bars whose copy of the window ``entry`` learned from is not the one it learned from (or that do not
    hold all of it): ``Entry.window_held``, as a champion's forecast checks it."""
    if entry.window_held(frame):
        return
    held = int(((frame["timestamp"] >= pd.Timestamp(entry.first_bar_at))
                & (frame["timestamp"] <= pd.Timestamp(entry.last_bar_at))).sum())
    raise RetrainError(
        f"the bars from {entry.first_bar_at:%Y-%m-%d %H:%M} to {entry.last_bar_at:%Y-%m-%d %H:%M} are not the "
        f"{entry.window_bars} bars champion adapter {entry.id} learned from ({held} bars, other prices or "
        "times: a split adjustment, another exchange?): refusing to retrain on a mixed history", {"adapter": entry.id},
        (Fix("use the bars it learned from"),
         Fix("if these bars come from another exchange, name it with {setting}: two exchanges' bars are two series",
             "exchange"),
         Fix("roll it back ({setting}) until the base model serves", "rollback")))


Progress = Callable[[float, str], None]  # (share of the run done, what runs now)
TRAINING_SHARE = 0.8  # of a decision's progress: the challenger's training steps (the rest: scoring three models)


def decision_progress(progress: Progress | None, i: int, n: int) -> Progress | None:
    """The run's ``progress`` as decision ``i`` of ``n`` reports it: its share of that decision done."""
    if progress is None:
        return None
    return lambda share, text: progress((i + share) / n, f"decision {i + 1} of {n}: {text}")


# --- one retrain run ------------------------------------------------------------------------------------------
class Retrainer:
    """Gated retraining of one series (``bars``, a ``data_sources.Bars``) on ``pair`` (the base model) with
    the registry of ``ledger``'s workspace. ``made_by``: the entry point that asked (``kronos retrain``, the
    app's Retrain now, ``POST /v1/retrain``), recorded with every adapter it registers."""

    def __init__(self, pair, bars, ledger, settings: RetrainSettings, log: Callable[[str], None] | None = None,
                 made_by: str = MADE_BY):
        from kronos_studio.training.adapters import base_info

        settings.check(pair.context, pair.name)
        self.pair, self.bars, self.settings = pair, bars, settings
        self.frame = bars.frame.reset_index(drop=True)
        self.registry = Registry(ledger)
        self.series = SeriesKey.of(bars)
        self.base = base_info(pair)
        self.period = training_period(pair)  # the dates the base model learned from (None: not recorded)
        self.builder = adapter_events(bars.interval)
        self.log = log or (lambda line: None)
        self.made_by = made_by
        self._adapted: dict[str, object] = {}

    # the retraining points
    def points(self, every: int | None = None, since=None) -> list[int]:
        """Bar positions to decide at (each reads the bars before it): the end of the bars, or every
        ``every`` bars from the first point that has enough bars (and is not before ``since``)."""
        n, need = len(self.frame), self.settings.needed()
        if n < need:
            raise RetrainError(f"{n} bars cannot hold a {self.settings.window}-bar training window and "
                               f"{self.settings.n_cutoffs} held-out cut-offs of {self.settings.horizon} bars: need "
                               f"at least {need}",
                               {"bars": n, "window": self.settings.window, "needed": need},
                               (Fix("load more bars or lower {setting}", "window"),
                                Fix("or hold out fewer cut-offs ({setting}), which tell less from noise", "cutoffs")))
        if not every:
            self.gate_cutoffs(n)  # refused now, before anything is trained
            return [n]
        first = need
        if since is not None:
            stamps = pd.DatetimeIndex(self.frame["timestamp"])
            t = pd.Timestamp(since)
            if stamps.tz is not None and t.tzinfo is None:
                t = t.tz_localize(stamps.tz)
            first = max(first, int(np.searchsorted(stamps, t)))
        out = list(range(first, n + 1, every))
        if not out:
            raise RetrainError(f"no retraining point from {since} on: the bars end at "
                               f"{self.frame['timestamp'].iloc[-1]}", {"since": str(since)},
                               Fix("use an earlier {setting}", "since"))
        for at in out:  # refused now, before anything is trained
            self.gate_cutoffs(at, walk=True)
        return out

    def gate_cutoffs(self, at: int, walk: bool = False) -> tuple[list[int], dict]:
        """The held-out cut-offs the gate scores at ``at`` and the training-period guard's numbers (as
        ``trust.guard_cutoffs``): those whose first forecast bar the base model saw are left out unless
        ``include_training_period``; ``TrainingPeriodError`` when fewer than ``MIN_GATE_CUTOFFS`` are left
        (``walk``: the refusal names the first retraining point that can be decided)."""
        s, period = self.settings, self.period
        cutoffs = s.cutoffs(at)
        stamps = pd.DatetimeIndex(self.frame["timestamp"])
        inside = trained_on(period, stamps[cutoffs])
        kept = cutoffs if s.include_training_period else [c for c, t in zip(cutoffs, inside) if not t]
        guard = {"training_period": None if period is None else period.describe(),
                 "in_training_period": int(inside.sum()), "in_training_period_included": s.include_training_period}
        if len(kept) >= MIN_GATE_CUTOFFS:
            return kept, guard
        # the bars are in time order: those the model saw come first; a point needs MIN_GATE_CUTOFFS after them
        earliest = int(trained_on(period, stamps).sum()) + MIN_GATE_CUTOFFS * s.horizon
        later = (Fix(f"start the walk at {stamps[earliest]:%Y-%m-%d %H:%M} or later, the first retraining point with "
                     f"{MIN_GATE_CUTOFFS} cut-offs after {period.seen_until.date()} ({{setting}})", "since",
                     str(stamps[earliest])) if walk and earliest < len(stamps)
                 else Fix(f"retrain on bars that go on after {period.seen_until.date()}"))
        raise TrainingPeriodError(
            f"{int(inside.sum())} of the {len(cutoffs)} held-out cut-offs of the decision at "
            f"{stamps[at - 1]:%Y-%m-%d %H:%M} forecast bars inside the base model's training period "
            f"({period.describe()}): it learned from bars of those dates, so the gate would compare a challenger with "
            f"its memory there; that leaves {len(kept)} held-out cut-offs after its training period, and the gate "
            f"needs at least {MIN_GATE_CUTOFFS} to tell a better model from noise",
            {"cutoffs": len(cutoffs), "in_training_period": int(inside.sum()), "seen_until": str(period.seen_until)},
            (later, Fix("or include them knowingly, the gate then partly measuring memory ({setting})",
                        INCLUDE_TRAINING_PERIOD, True)))

    def run(self, points: list[int], progress: Progress | None = None,
            training_bars: pd.DataFrame | None = None) -> Report:
        """Decide at every point, in time order, under the series' lock. ``progress(share, text)``: the share
        of the run done (0 to 1) and what runs now, after every training step and scoring phase.
        ``training_bars``: other bars to train the challengers on (a foreign series: the gate must reject what
        they teach)."""
        workspace = self.registry.workspace
        report = Report()
        with series_lock(self.series, workspace, self.registry.replay):
            self._clean_leftovers()
            for i, at in enumerate(points):
                report.decisions.append(self.decide_at(at, training_bars, decision_progress(progress, i, len(points))))
        champion = self.registry.champion(self.series)
        report.champion = None if champion is None else champion.id
        return report

    def _clean_leftovers(self) -> None:
        """Temporary folders of runs killed mid-way (only this series' lock holder writes here)."""
        folder = adapters_folder(self.series, self.registry.workspace, self.registry.replay)
        for tmp in folder.glob(".tmp-*"):
            shutil.rmtree(tmp, ignore_errors=True)

    # one decision
    def decide_at(self, at: int, training_bars: pd.DataFrame | None = None, progress: Progress | None = None) -> dict:
        s = self.settings
        progress = progress or (lambda share, text: None)
        past = self.frame.iloc[:at]
        cut = at - s.held_out()
        window = past.iloc[cut - s.window:cut].reset_index(drop=True)
        train_on = window if training_bars is None else training_bars.iloc[-s.window:].reset_index(drop=True)
        champion = self.registry.champion(self.series)
        if champion is not None:
            if champion.base_hash != self.base["predictor_revision"]:
                raise RetrainError(f"champion adapter {champion.id} of {self.series} was trained on "
                                   f"{champion.base_model} ({champion.base_hash}), not on {self.base['name']}",
                                   {"base_model": champion.base_model}, Fix("retrain with {setting}", "model",
                                                                            champion.base_model))
            check_history(self.frame, champion)
        at_time = pd.Timestamp(past["timestamp"].iloc[-1])
        window_hash = window_fingerprint(train_on)
        known = self.registry.find_window(self.series, self.base["predictor_revision"], window_hash)
        if known is not None and known.status != CHALLENGER:
            entry = {**(known.scores or {}), "at": at_time.isoformat(), "challenger": known.id, "decision": SKIPPED,
                     "reason": f"this window was decided already: adapter {known.id} is {known.status}"}
            self.log(f"{at_time}: {SKIPPED}: adapter {known.id} ({known.status}) was trained on this window")
            progress(1.0, f"{SKIPPED}: this window was decided already")
            return entry
        cutoffs, guard = self.gate_cutoffs(at)
        entry = known or self._train_and_register(train_on, window_hash, champion, progress)
        progress(TRAINING_SHARE, f"scoring challenger, champion and base on {len(cutoffs)} held-out cut-offs")
        results = self._score(past, cutoffs, entry, champion)
        verdict = decide(results["challenger"], results["champion"])
        reason = verdict.reason + untrained_note(entry) + guard_words(guard, len(cutoffs))
        decision = verdict.decision
        in_sample = in_sample_only(guard, len(cutoffs))
        if decision == PROMOTED and in_sample and not s.promote_in_sample:
            decision = REJECTED  # decided and recorded; serving on the model's memory needs a second confirmation
            reason += withheld_words(guard, len(cutoffs))
        summaries = {role: r.summary() for role, r in results.items()}
        scores = {
            "at": at_time.isoformat(), "challenger": entry.id, "champion": None if champion is None else champion.id,
            "base": self.base["name"], "crps": {role: v["crps_pct"] for role, v in summaries.items()},
            "diff_ci95": list(verdict.diff_ci95),
            "detectable": float(verdict.detectable) if np.isfinite(verdict.detectable) else None,
            "coverage": {role: v["coverage_p10_p90"] for role, v in summaries.items()},
            "cutoffs": len(results["challenger"].cutoffs), "in_training_period": guard["in_training_period"],
            "in_sample_only": in_sample, "gate": verdict.decision, "decision": decision, "reason": reason}
        if decision == PROMOTED:
            self.registry.promote(entry.id, scores, reason)
        else:
            self.registry.reject(entry.id, scores, reason)
        self.log(f"{at_time}: {decision} adapter {entry.id} "
                 f"(champion {scores['champion'] or 'base'}): {reason}")
        progress(1.0, f"adapter {entry.id} {decision}")
        return scores

    def _train_and_register(self, train_on: pd.DataFrame, window_hash: str, champion: Entry | None,
                            progress: Progress) -> Entry:
        from kronos_studio.training.adapters import AdapterError, load_adapter

        s = self.settings
        final = adapters_folder(self.series, self.registry.workspace, self.registry.replay) / window_hash[:16]
        try:
            adapter = load_adapter(final)  # renamed into place by a run killed before it registered
        except AdapterError:
            shutil.rmtree(final, ignore_errors=True)
            adapter = self._train(train_on, final, progress)
        stamps = pd.DatetimeIndex(train_on["timestamp"])
        return self.registry.register(Candidate(
            self.series, self.base["name"], self.base["predictor_revision"], stamps[0].to_pydatetime(),
            stamps[-1].to_pydatetime(), len(train_on), window_hash, str(final),
            {**asdict(s), "val_fraction": VAL_FRACTION}, self.made_by,
            parent_id=None if champion is None else champion.id, content_sha256=adapter.digest))

    def _train(self, train_on: pd.DataFrame, final: Path, progress: Progress):
        from kronos_studio.training.loop import TrainConfig
        from kronos_studio.training.lora import finetune_lora

        s = self.settings
        val_start = train_on["timestamp"].iloc[len(train_on) - int(len(train_on) * VAL_FRACTION)]
        data = build_train_data([Series(self.series.symbol, self.bars.interval, train_on)], TimeSplit(val_start),
                                s.lookback + s.horizon, s.lookback)
        cfg = TrainConfig(steps=s.steps, batch_size=s.batch_size, lr=s.lr, warmup_steps=max(1, s.steps // 10),
                          eval_every=max(1, s.steps // 4), val_windows=32, save_every=10 * s.steps,
                          log_every=max(1, s.steps // 4), seed=s.seed)
        tmp = final.parent / f".tmp-{final.name}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        result = finetune_lora(self.pair, data, self.builder, cfg, tmp, name=f"{self.series.symbol}-{final.name}",
                               log=None, run_info={"retrain": str(self.series)},
                               progress=lambda step, total, _: progress(TRAINING_SHARE * step / total,
                                                                        f"training the challenger: step {step} of {total}"))
        os.replace(tmp, final)  # complete, or not there: the registry never names half-written files
        return result.adapter

    def _score(self, past: pd.DataFrame, cutoffs: list[int], entry: Entry, champion: Entry | None) -> dict:
        """Challenger, champion (the base model when none) and base on the held-out ``cutoffs`` after the
        training window: the same cut-offs, history windows and seeds."""
        s = self.settings
        models = {"challenger": cutoff_forecaster(self._adapted_pair(entry), self.builder),
                  "base": cutoff_forecaster(self.pair)}
        if champion is not None:
            models["champion"] = cutoff_forecaster(self._adapted_pair(champion), self.builder)
        settings = ForecastSettings(horizon=s.horizon, paths=s.paths, seed=s.seed, lookback=s.lookback)
        results = compare(models, past, settings, cutoffs)
        if champion is None:
            results["champion"] = results["base"]
        return results

    def _adapted_pair(self, entry: Entry):
        from kronos_studio.training.adapters import apply_adapter

        if entry.path not in self._adapted:
            self._adapted[entry.path] = apply_adapter(self.pair, entry.path)
        return self._adapted[entry.path]


def untrained_note(entry: Entry) -> str:
    """Why a challenger forecasts as its base model, when it does: its training never beat the base model's
    validation loss, so the adapter kept is the untrained one (best validation step 0: zero LoRA deltas and a
    zero event embedding). '' otherwise."""
    from kronos_studio.training.adapters import adapter_metadata

    training = (adapter_metadata(entry.path) or {}).get("training", {})
    if training.get("best_step") != 0:
        return ""
    return (f"; its best validation step was the untrained one (step 0 of {training.get('steps')}: no step beat the "
            "base model's validation loss), so the adapter kept is the base model unchanged")


def guard_words(guard: dict, scored: int) -> str:
    """The training-period guard of a decision in words ('' when no cut-off was inside the period)."""
    n = guard["in_training_period"]
    if not n:
        return ""
    if guard["in_training_period_included"]:
        return (f"; {n} of these {scored} cut-offs forecast bars inside the base model's training period "
                f"({guard['training_period']}): included, so the comparison partly measures memory")
    return f"; {n} cut-offs inside the base model's training period ({guard['training_period']}) left out"


def in_sample_only(guard: dict, scored: int) -> bool:
    """Whether a decision's evidence is in-sample: its cut-offs inside the base model's training period were
    included, and fewer than ``MIN_GATE_CUTOFFS`` lie after it (those alone the gate would have refused)."""
    return bool(guard["in_training_period_included"]) and scored - guard["in_training_period"] < MIN_GATE_CUTOFFS


def withheld_words(guard: dict, scored: int) -> str:
    """Why a challenger the gate would promote was not, its evidence in-sample (``in_sample_only``)."""
    after = scored - guard["in_training_period"]
    return (f"; not promoted: {after or 'none'} of these {scored} cut-offs lie after the base model's training "
            f"period, fewer than the {MIN_GATE_CUTOFFS} the gate needs, so this verdict rests on bars the model "
            "learned from, and a champion must beat its champion on bars it never saw (decided and recorded; "
            "confirm \"promote on in-sample evidence\" to let such a challenger serve)")


def champion_base(champion: Entry | None, load_pair: Callable[[str], object]):
    """The base model to retrain a series on when none is named: the one its champion was trained on (the
    bundled model with its predictor revision), the bundled default when it has no champion.
    ``load_pair(ref)`` loads a Kronos model."""
    from kronos_studio.training.adapters import bundled_base

    if champion is None:
        return load_pair(str(default_model_path()))
    pair = bundled_base(champion.base_hash, load_pair)
    if pair is not None:
        return pair
    raise RetrainError(f"champion adapter {champion.id} of {champion.series} was trained on {champion.base_model} "
                       f"({champion.base_hash}), which is not a bundled model here", {"base_model": champion.base_model},
                       (Fix("retrain with {setting}", "model", champion.base_model),
                        Fix("roll the champion back ({setting}) to retrain on the bundled model", "rollback")))
