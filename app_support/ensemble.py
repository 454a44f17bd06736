"""The ensemble in the app: one run samples every member and mixes them (the members' own paths are kept
beside the mixture, for the fan's "Show members"), its provenance, and its walk-forward with each member
and the baselines ranked beside it on the same cut-offs and seeds (the Evaluate page). The mixing is the
library's (``kronos_studio.ensemble``); the Kronos member is the bundled default model, loaded once per
process like any other model, with the sidebar's temperature, top-p and top-k."""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from .metrics import COVERAGE
from .models import ModelChoice, ensemble_digest, load_model
from .runs import LRUStore, ProgressBar

SHORT_NAMES = {"kronos": "Kronos", "garch": "GARCH", "random_walk": "Random walk", "bootstrap": "Bootstrap",
               "chronos2": "Chronos-2"}
BASELINE_PATHS = 200  # as the trust panel's baselines (kronos_studio.evaluation.trust.evaluate)
ENSEMBLE_ROW = "Ensemble"


def short_name(key: str, member=None) -> str:
    return SHORT_NAMES.get(key) or getattr(member, "name", key)


@dataclass
class MemberFan:
    key: str
    name: str  # short, for legends
    weight: float  # the meta-learner's mixture weight for this forecast
    paths: np.ndarray  # [S, H, 6]: every path the member sampled (the mixture took its weight's share)


@lru_cache(maxsize=1)
def forecast_class():
    """``EnsembleForecast``: a ``kronos.pipeline.Forecast`` that keeps each member's own paths
    (``members``: MemberFan, same timestamps and columns, in the meta-learner's order);
    ``dataclasses.replace`` (the fan calibration) keeps them. Made on first use: importing
    kronos.pipeline imports torch, which the pages leave to the warm-up thread."""
    from kronos.forecast import Forecast

    @dataclass
    class EnsembleForecast(Forecast):
        members: list = field(default_factory=list)

    return EnsembleForecast


def kronos_choice(choice: ModelChoice) -> ModelChoice:
    """The ensemble's Kronos member as the bundled model it is: the same key, so one loaded copy serves
    both."""
    name = Path(choice.ref).name
    return ModelChoice(f"bundled:{name}", f"{name} (bundled, offline)", choice.ref, "bundled")


@st.cache_resource(show_spinner=False, max_entries=2)
def _meta_learner(digest: str):
    from kronos_studio.ensemble.bundled import load_bundled_meta

    return load_bundled_meta()


def build(bars, choice: ModelChoice, settings):
    """(Ensemble, Kronos pair, meta-learner files' sha256) for these bars and settings: the bundled Kronos with the settings'
    temperature, top-p and top-k, reading at most context - horizon bars of the lookback; GARCH, the random
    walk and the bootstrap; each member samples ``settings.paths`` paths. Raises ValueError when the
    meta-learner is missing or unreadable, CheckpointError when the model is."""
    from kronos_studio.ensemble.bundled import bars_ensemble
    from kronos_studio.forecasting import studio_pipeline

    digest = ensemble_digest()
    if digest is None:
        raise ValueError("the bundled meta-learner's files are missing (kronos_studio/assets/ensemble): "
                         "reinstall kronos-studio, or pick a single model")
    meta = _meta_learner(digest)
    pair = load_model(kronos_choice(choice))
    ensemble = bars_ensemble(studio_pipeline(pair), bars, meta, settings)
    return ensemble, pair, digest


class _Watched:
    """A member that moves a progress bar (member i of n) when it is done."""

    def __init__(self, member, bar: ProgressBar, i: int, n: int):
        self.member, self.bar, self.i, self.n = member, bar, i, n

    def __call__(self, history, future, horizon, seed):
        out = self.member(history, future, horizon, seed)
        self.bar(self.i + 1, self.n)
        return out

    def __getattr__(self, name):
        return getattr(self.member, name)


def sample(bars, choice: ModelChoice, settings, future: pd.DatetimeIndex, label: str | None = None):
    """An EnsembleForecast (``forecast_class``): every member's paths and their mixture from one run on the
    last ``settings.lookback`` bars, with the provenance of the members (their versions), the
    meta-learner (its files' digest) and the weights."""
    from kronos.bars import bars_frame, input_digest
    from kronos.errors import InputError
    from kronos_studio.ensemble.ensemble import mixture_counts

    started = time.perf_counter()
    ens, pair, digest = build(bars, choice, settings)
    frame = bars_frame(bars)
    if settings.lookback:
        if len(frame) < settings.lookback:
            raise InputError(f"lookback is {settings.lookback} bars but only {len(frame)} are available: "
                             "lower the lookback or load more history")
        frame = frame.iloc[-settings.lookback:].reset_index(drop=True)
    n = len(ens.members)
    bar = ProgressBar(label or f"Ensemble: sampling {settings.paths} paths from each of {n} members", unit="member")
    ens.members = {k: _Watched(m, bar, i, n) for i, (k, m) in enumerate(ens.members.items())}
    try:
        member_paths = ens.member_paths(frame, future, settings.horizon, settings.seed)
        paths = ens.combine(frame, member_paths, settings.horizon)
    finally:
        bar.done()
    ens.members = {k: m.member for k, m in ens.members.items()}
    weights = {k: float(w) for k, w in ens.last_weights.items()}
    described = ens.describe()
    provenance = {"model": "ensemble", **described, "weights": weights,
                  "meta_learner": {**described["meta_learner"], "files_sha256": digest},
                  "mixture_paths": mixture_counts(weights, settings.paths), "device": str(pair.device),
                  "seed": int(settings.seed), "input_sha256": input_digest(frame),
                  "history_start": str(frame["timestamp"].iloc[0]), "history_end": str(frame["timestamp"].iloc[-1]),
                  "bars_used": len(frame), "members_read": ens.members_read(len(frame)),
                  "settings": dataclasses.asdict(settings),
                  "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "elapsed_s": round(time.perf_counter() - started, 3)}
    members = [MemberFan(k, short_name(k, m), weights[k], member_paths[k]) for k, m in ens.members.items()]
    return forecast_class()(pd.DatetimeIndex(future), paths, paths.mean(axis=0), frame, settings, provenance,
                            members=members)


def legend_members(forecast) -> list[tuple[str, np.ndarray]]:
    """(legend label "GARCH 27%", paths) per member of an ensemble forecast, for ``charts.fan_chart``."""
    return [(f"{m.name} {m.weight:.0%}", m.paths) for m in getattr(forecast, "members", [])]


def caption(provenance: dict) -> str:
    """The Forecast page's model line for an ensemble forecast: members with their weights and versions."""
    members = provenance["members"]
    parts = []
    for key, w in provenance["weights"].items():
        version = members[key].get("predictor_revision") or members[key].get("package")
        parts.append(f"{short_name(key)} {w:.0%}" + (f" ({version})" if version else ""))
    meta = provenance["meta_learner"]
    return (f"Model **ensemble**: {' · '.join(parts)} · meta-learner {meta['files_sha256']} (temperature "
            f"{meta['temperature']}, spread {meta['spread']}) · device {provenance['device']} · seed "
            f"{provenance['seed']} · {provenance['bars_used']} bars {provenance['history_start']} → "
            f"{provenance['history_end']} · data {provenance['input_sha256']}")


# --- evaluation: the ensemble ranked against its members ----------------------------------------------
def evaluation_fn(bars, choice: ModelChoice, settings):
    from kronos_studio.ensemble.ensemble import RecordedEnsemble

    return RecordedEnsemble(build(bars, choice, settings)[0], ENSEMBLE_ROW)


@st.cache_resource(show_spinner=False)
def _rankings() -> LRUStore:
    return LRUStore(size=32)  # as many as the trust panel's reports


def rank(fn, report, bars, settings, key: tuple) -> pd.DataFrame:
    """The ensemble, each member (on the paths it gave the mixture) and the baselines, walked forward by
    ``walk_forward.compare`` on the cut-offs and seeds of ``report`` (the ensemble's walk-forward just
    run with ``fn``), best first; stored under ``key`` (the report's)."""
    from kronos.bars import bars_frame
    from kronos_studio.evaluation.baselines import REFERENCE, default_baselines
    from kronos_studio.evaluation.walk_forward import compare

    from .metrics import ranking

    model = report.model
    baselines = default_baselines(BASELINE_PATHS)
    rows = {ENSEMBLE_ROW: ("ensemble", fn.replay(None))}
    rows |= {f"{short_name(k, m)} (member)": ("member", fn.replay(k)) for k, m in fn.ensemble.members.items()}
    rows |= {b.name: ("baseline", b) for b in baselines.values()}
    # walk_forward gives the i-th cut-off the seed ``seed + i``; the cut-offs a time limit kept are the
    # newest, one contiguous run of them, so starting from the first kept seed gives every one its own.
    results = compare({name: f for name, (_, f) in rows.items()}, bars_frame(bars), horizon=model.horizon,
                      cutoffs=model.cutoffs, lookback=settings.lookback, seed=model.seeds[0])
    if list(results[ENSEMBLE_ROW].seeds) != list(model.seeds):
        raise ValueError("the ranking's seeds differ from the evaluation's; run the evaluation again")
    table = ranking(results, baselines[REFERENCE].name)
    keys = {f"{short_name(k, m)} (member)": k for k, m in fn.ensemble.members.items()}
    weights = pd.DataFrame(list(fn.weights.values()))
    table.insert(2, "role", [rows[m][0] for m in table["model"]])
    table.insert(3, "mean weight", [float(weights[keys[m]].mean()) if m in keys else np.nan for m in table["model"]])
    _rankings().put(key, table)
    return table


def show_ranking(key: tuple) -> pd.DataFrame | None:
    """The Evaluate page's ranking of the ensemble, its members and the baselines (None when not kept)."""
    st.subheader("The ensemble against its members")
    table = _rankings().get(key)
    if table is None:
        st.info("The member ranking of this evaluation is no longer kept (the latest 32 are): change the "
                "cut-offs or the time limit to run the evaluation again.")
        return None
    place = int(table.index[table["model"] == ENSEMBLE_ROW][0]) + 1
    best = table["model"].iloc[0]
    st.markdown(f"**The ensemble ranks {place} of {len(table)}** by CRPS on these cut-offs"
                + ("." if place == 1 else f"; lowest CRPS: {best}."))
    pct = st.column_config.NumberColumn
    st.dataframe(table, hide_index=True, key="ev_ensemble_ranking",
                 column_config={"mean weight": pct("mean weight", format="percent",
                                                   help="The meta-learner's weight, averaged over the cut-offs"),
                                "CRPS, % of price": pct("CRPS, % of price", format="%.3f")}
                 | {c: pct(c, format="percent") for c in (COVERAGE, "CRPS skill vs random walk",
                                                          "95% CI low", "95% CI high")})
    n = int(table["cut-offs"].iloc[0])
    st.caption(f"All on the same {n} cut-offs, history windows and seeds. Each member is scored on the paths "
               "it gave the ensemble at each cut-off (its own sampled paths; the mixture took its weight's "
               f"share of them); the baselines sample {BASELINE_PATHS} paths. Skill = 1 − CRPS / CRPS(random walk "
               "(hist. vol)); the 95% interval resamples the cut-offs (paired bootstrap): if it spans 0 the "
               "difference is noise.")
    return table
