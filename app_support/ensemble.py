"""The ensemble in the app: one run samples every member and mixes them (the members' own paths are kept
beside the mixture, for the fan's "Show members"), its provenance, and its walk-forward with each member
and the baselines ranked beside it on the same cut-offs and seeds (the Evaluate page). The mixing is the
library's (``kronos_studio.ensemble``); the Kronos member is the bundled default model, loaded once per
process like any other model, with the sidebar's temperature, top-p and top-k."""
from __future__ import annotations

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


def sample(bars, choice: ModelChoice, settings, future: pd.DatetimeIndex, label: str | None = None):
    """An ``EnsembleForecast`` (``kronos_studio.ensemble.ensemble``): every member's paths and their mixture
    from one run on the last ``settings.lookback`` bars, made by the library's ``ensemble_forecast`` (as
    ``kronos forecast --model ensemble``), with the meta-learner files' digest and the device added."""
    from kronos_studio.ensemble.ensemble import ensemble_forecast

    ens, pair, digest = build(bars, choice, settings)
    n = len(ens.members)
    bar = ProgressBar(label or f"Ensemble: sampling {settings.paths} paths from each of {n} members", unit="member")
    try:
        fc = ensemble_forecast(ens, bars, settings, future=future, progress=bar)
    finally:
        bar.done()
    fc.provenance["meta_learner"] = {**fc.provenance["meta_learner"], "files_sha256": digest}
    fc.provenance["device"] = str(pair.device)
    return fc


def legend_members(forecast) -> list[tuple[str, np.ndarray]]:
    """(legend label "GARCH 27%", paths) per member of an ensemble forecast, for ``charts.fan_chart``."""
    weights = forecast.provenance.get("weights", {})
    return [(f"{short_name(k)} {weights[k]:.0%}", paths) for k, paths in getattr(forecast, "members", {}).items()]


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
