"""The ensemble's meta-learner through the champion/challenger gate (``kronos_studio.training.gate``): a
meta-learner fitted on the ledger's scored ensemble forecasts serves the workspace's ensemble only when it
beats the one serving now on the newest scored forecasts it was not trained on.

    [ training: forecasts whose origin and every scored bar lie before the first held-out origin | held out ]

The held-out forecasts are the newest ``holdout`` usable ones (by origin); the challenger learns only from
what was known before the first of them (``LedgerEvaluations.known_before`` that time), so no outcome
it trained on lies in the held-out period. Both meta-learners are scored on the held-out forecasts' recorded
member paths, each combining them as the ensemble would (``meta_scores``), with the same draws (seed = the
cut-off's index): a paired comparison of fair CRPS, decided by ``gate.decide_scores``.

A ledger-wide meta-learner is not fitted to one series: the registry files it under the series key
``LEDGER_WIDE`` (source ``ledger``, symbol and interval ``*``), kind ``META_LEARNER``, one champion per
workspace. Its files are written to a temporary folder and renamed into place before it is registered.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from kronos.errors import Fix, UserError
from kronos.lazy import np, pd
from kronos_studio.ledger import Ledger
from kronos_studio.ledger.engine import ledger_url
from kronos_studio.ledger.registry import META_LEARNER, Candidate, Entry, Registry, SeriesKey
from kronos_studio.ledger.schema import CHALLENGER, LIVE
from kronos_studio.training.gate import MIN_GATE_CUTOFFS, PROMOTED, decide_scores
from kronos_studio.training.retrain import adapters_folder

from .bundled import load_bundled_meta
from .combine import EQUAL
from .from_ledger import LedgerEvaluations, ledger_evaluations
from .meta import MetaLearner
from .train import combined_scores, fit_meta

LEDGER_WIDE = SeriesKey("ledger", "*", "*")  # the registry's series of a meta-learner learned from the whole ledger
HOLDOUT_SHARE = 0.2  # the newest share of usable forecasts held out for the gate (at least MIN_GATE_CUTOFFS)
MADE_BY = "kronos train ensemble (from the ledger)"
BUNDLED = "bundled"  # the current meta-learner's name when no champion serves


class MetaGateError(UserError, ValueError):
    """A gated meta-learner fit that cannot run as asked; the message names the numbers and the fix."""


@dataclass(frozen=True)
class MetaGateSettings:
    """``holdout``: held-out forecasts, a count (>= 1) or a share (< 1; None: ``HOLDOUT_SHARE``), at least
    ``MIN_GATE_CUTOFFS``; ``least``: the fewest forecasts to train on; ``before``: read only what was
    known before this time (UTC); ``base_model``/``base_hash``: the Kronos the ensemble mixes."""

    before: pd.Timestamp
    least: int
    base_model: str
    base_hash: str
    holdout: float | None = None

    def held_out(self, usable: int) -> int:
        share = HOLDOUT_SHARE if self.holdout is None else self.holdout
        wanted = int(share) if share >= 1 else int(np.ceil(share * usable))
        return max(wanted, MIN_GATE_CUTOFFS) if self.holdout is None else wanted


@dataclass(frozen=True)
class MetaDecision:
    entry: Entry  # the challenger's registry entry, after the decision
    current: str  # what served: "meta-learner N" or BUNDLED
    scores: dict
    skipped: bool = False  # this training window was decided before: nothing refitted


def meta_folder(workspace: str, window_hash: str, replay: str = LIVE) -> Path:
    """Where a registered ledger-wide meta-learner's files live: beside the workspace's (replay's) adapters."""
    return adapters_folder(LEDGER_WIDE, workspace, replay) / f"meta-{window_hash[:16]}"


def champion_meta(registry: Registry) -> Entry | None:
    return registry.champion(LEDGER_WIDE, META_LEARNER)


def meta_scores(meta: MetaLearner, records: list[dict], paths: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(fair CRPS % per record, p10-p90 coverage per record, records weighed equally) of ``meta`` combining
    each record's member paths as the ensemble would (``Ensemble.combine``): its chosen method's weights
    and spread, equal weights where it was trained with other members (what the ensemble does then)."""
    crps, covered, equal = [], [], 0
    for i, r in enumerate(records):
        method = meta.method if set(r["paths"]) == set(meta.members) else EQUAL
        if method == EQUAL:
            weights, spread, equal = {k: 1 / len(r["paths"]) for k in r["paths"]}, 1.0, equal + 1
        elif method == "softmax":
            weights, spread = meta.weights(r["features"]), meta.spread
        else:
            weights, spread = meta.group_weights(method, r["group"]), meta.spread_of(method)
        weights = {k: float(weights.get(k, 0.0)) for k in r["paths"]}
        c, v = combined_scores(r, "quantile" if method == "quantile" else "pool", weights, spread, paths, i)
        crps.append(c)
        covered.append(v)
    return np.array(crps), np.array(covered), equal


def window_hash(found: LedgerEvaluations) -> str:
    """sha256 of the training table (its forecasts, members, features and targets): the window's content."""
    table = found.evals.table.drop(columns=["used"], errors="ignore")
    digest = hashlib.sha256(pd.util.hash_pandas_object(table.astype(str), index=False).to_numpy().tobytes())
    return digest.hexdigest()


def gate_from_ledger(ledger, settings: MetaGateSettings, log=None) -> MetaDecision:
    """Hold out the newest scored ensemble forecasts, fit a challenger on the older ones, score it and the
    workspace's current meta-learner (its champion, else the bundled one) there, and promote or reject it
    in the registry. Raises ``MetaGateError`` (nothing registered) when too few forecasts are usable."""
    found = ledger_evaluations(ledger, settings.before)
    held_n = settings.held_out(found.count)
    records = sorted(found.evals.cutoffs, key=lambda r: pd.Timestamp(r["cutoff_time"]))
    if held_n < MIN_GATE_CUTOFFS or held_n >= found.count:
        raise MetaGateError(f"{found.count} scored ensemble forecasts are usable before {settings.before:%Y-%m-%d %H:%M}"
                            f" UTC and {held_n} would be held out: the gate needs at least {MIN_GATE_CUTOFFS} "
                            "held out and the rest to train on",
                            {"usable": found.count, "holdout": held_n, "min_gate_cutoffs": MIN_GATE_CUTOFFS},
                            (Fix(f"hold out at least {MIN_GATE_CUTOFFS} ({{setting}})", "holdout", MIN_GATE_CUTOFFS),
                             Fix("let more forecasts be scored ({setting})", "score")))
    boundary = pd.Timestamp(records[-held_n]["cutoff_time"])
    held = [r for r in records if pd.Timestamp(r["cutoff_time"]) >= boundary]
    train = found.known_before(boundary)  # only what was known when the first held-out forecast was made
    if train.count < settings.least:
        left = "; ".join(f"{n} {why}" for why, n in train.skipped.items() if "since" not in why)
        raise MetaGateError(f"only {train.count} scored ensemble forecasts were known before the {len(held)} held-out "
                            f"ones (from {boundary:%Y-%m-%d %H:%M} UTC; need at least {settings.least} to train on"
                            f"{'; left out: ' + left if left else ''})",
                            {"train": train.count, "held_out": len(held), "least": settings.least},
                            (Fix("let more be scored ({setting})", "score"), Fix("lower {setting}", "min_evaluations"),
                             Fix("hold out fewer ({setting})", "holdout")))
    registry = Registry(ledger)
    current_entry = champion_meta(registry)
    try:
        current = load_bundled_meta() if current_entry is None else MetaLearner.load(current_entry.path)
    except ValueError as e:
        raise MetaGateError(f"the serving meta-learner {current_entry.id} cannot be read to score it ({e})",
                            {"id": current_entry.id}, Fix("roll it back ({setting})", "rollback")) from None
    current_name = BUNDLED if current_entry is None else f"meta-learner {current_entry.id}"
    window = window_hash(train)
    known = registry.find_window(LEDGER_WIDE, settings.base_hash, window, META_LEARNER)
    if known is not None and known.status != CHALLENGER:
        return MetaDecision(known, current_name, known.scores or {}, skipped=True)
    folder = meta_folder(registry.workspace, window, registry.replay)
    challenger = _fitted(train, folder, settings, log)
    paths = min(found.paths, train.paths)
    ours, our_cover, _ = meta_scores(challenger, held, paths)
    theirs, their_cover, equal = meta_scores(current, held, paths)
    verdict = decide_scores(ours, theirs, float(our_cover.mean()), float(their_cover.mean()))
    first, last = (pd.Timestamp(train.evals.cutoffs[i]["cutoff_time"]).to_pydatetime() for i in (0, -1))
    entry = known or registry.register(Candidate(
        LEDGER_WIDE, settings.base_model, settings.base_hash, first, last, train.count, window, str(folder),
        {"holdout": settings.holdout, "held_out": len(held), "min_evaluations": settings.least,
         "before": str(settings.before), "paths": paths, "method": challenger.method}, MADE_BY,
        kind=META_LEARNER, parent_id=None if current_entry is None else current_entry.id,
        content_sha256=challenger.files_sha256))
    scores = {"crps": {"challenger": float(ours.mean()), "champion": float(theirs.mean())},
              "coverage": {"challenger": float(our_cover.mean()), "champion": float(their_cover.mean())},
              "diff_ci95": list(verdict.diff_ci95), "cutoffs": len(held), "champion": current_name,
              "held_out_from": str(boundary), "held_out_to": str(records[-1]["cutoff_time"]),
              "decision": verdict.decision, "reason": verdict.reason}
    if equal:
        scores["champion_equal_weights"] = f"{equal} of the held-out forecasts had members it was not trained with"
    if verdict.decision == PROMOTED:
        entry = registry.promote(entry.id, scores, verdict.reason)
    else:
        entry = registry.reject(entry.id, scores, verdict.reason)
    return MetaDecision(entry, current_name, scores)


def _fitted(train: LedgerEvaluations, folder: Path, settings: MetaGateSettings, log) -> MetaLearner:
    """The challenger fitted on ``train`` and saved in ``folder`` (a temporary folder renamed into place: the
    registry never names half-written files); the one already there when a killed run left it complete."""
    try:
        return MetaLearner.load(folder)
    except ValueError:
        shutil.rmtree(folder, ignore_errors=True)
    try:
        meta = fit_meta(train.evals, train.paths, info={"provenance": {
            "trained_on": "ledger", "before": str(settings.before), "evaluations": train.count}})
    except ValueError as e:  # e.g. too few complete forecasts for any method
        raise MetaGateError(f"the challenger cannot be fitted on the {train.count} forecasts before the held-out "
                            f"ones: {e}", {"train": train.count}, Fix("hold out fewer ({setting})", "holdout")) from None
    tmp = folder.parent / f".tmp-{folder.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    meta.save(tmp)
    os.replace(tmp, folder)
    if log is not None:
        log(f"challenger over {meta.members} trained on {train.count} scored ensemble forecasts; saved to {folder}")
    return MetaLearner.load(folder)


def champion_entry(workspace: str | None) -> Entry | None:
    """The champion meta-learner of ``workspace`` (None: the default one), None when there is none or no
    ledger yet (a SQLite ledger that does not exist is not created by a forecast)."""
    url = ledger_url()
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        return None
    with Ledger.open(workspace=workspace) as ledger:
        return champion_meta(Registry(ledger))


def serving_meta(entry: Entry, members, kronos_revision: str | None) -> tuple[MetaLearner | None, str]:
    """(the champion ``entry``'s meta-learner, a provenance note) when it can weigh ``members`` (keys) mixed
    with the Kronos of ``kronos_revision``; (None, why not) otherwise, and the ensemble keeps the meta-learner
    it would use without a champion. Raises ``MetaGateError`` when its files changed since it was registered."""
    if entry.base_hash != kronos_revision:
        return None, (f"the workspace's champion meta-learner {entry.id} was trained over the Kronos {entry.base_model} "
                      f"({entry.base_hash}), not this one ({kronos_revision}): it does not serve")
    try:
        meta = MetaLearner.load(entry.path)
    except ValueError as e:
        raise MetaGateError(f"the workspace's champion meta-learner {entry.id} cannot be read ({e})",
                            {"id": entry.id, "path": entry.path},
                            Fix("roll it back ({setting})", "rollback")) from None
    if entry.content_sha256 and meta.files_sha256 != entry.content_sha256:
        raise MetaGateError(f"the files of the workspace's champion meta-learner {entry.id} in {entry.path} changed "
                            f"since it was registered ({meta.files_sha256}, registered {entry.content_sha256})",
                            {"id": entry.id, "path": entry.path}, Fix("roll it back ({setting})", "rollback"))
    if sorted(meta.members) != sorted(members):
        return None, (f"the workspace's champion meta-learner {entry.id} was trained with the members "
                      f"{sorted(meta.members)}, not {sorted(members)}: it does not serve")
    meta.info = {**meta.info, "provenance": {**meta.info.get("provenance", {}), "registry_id": entry.id,
                                             "registry_status": entry.status}}
    return meta, f"the workspace's champion meta-learner {entry.id} (promoted {entry.decided_at:%Y-%m-%d %H:%M} UTC)"
