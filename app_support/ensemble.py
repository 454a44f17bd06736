"""The ensemble in the app: the legend of its members on the fan, its model line, and its walk-forward with
each member and the baselines ranked beside it on the same cut-offs and seeds (the Evaluate page). The
forecast itself is made like any other (``kronos_studio.forecasters``)."""
from __future__ import annotations

import streamlit as st

from kronos.lazy import np, pd
from kronos_studio.desk import BASELINE_PATHS
from kronos_studio.desk.metrics import COVERAGE, member_ranking, signed_percent

from .errors import app_message
from .forecasts import desk
from .models import load_model
from .runs import ProgressBar

SHORT_NAMES = {"kronos": "Kronos", "garch": "GARCH", "random_walk": "Random walk", "bootstrap": "Bootstrap",
               "chronos2": "Chronos-2", "har": "HAR", "gjr_garch": "GJR-GARCH"}
ENSEMBLE_ROW = "Ensemble"


def short_name(key: str, name: str | None = None) -> str:
    """A member's legend name: ``SHORT_NAMES``' word for its key, else its own ``name`` (else its key)."""
    return SHORT_NAMES.get(key) or name or key


def legend_members(forecast) -> list[tuple[str, np.ndarray]]:
    """(legend label "GARCH 27%", paths) per member of an ensemble forecast, for ``charts.fan_chart``."""
    weights = forecast.provenance.get("weights", {})
    return [(f"{short_name(k)} {weights[k]:.0%}", paths) for k, paths in forecast.members.items()]


def caption(provenance: dict) -> str:
    """The Forecast page's model line for an ensemble forecast: members with their weights and versions, and
    how they were weighted (the meta-learner, one fitted to this series, or a stated fallback rule)."""
    members = provenance["members"]
    parts = []
    for key, w in provenance["weights"].items():
        version = members[key].get("predictor_revision") or members[key].get("package")
        parts.append(f"{short_name(key)} {w:.0%}" + (f" ({version})" if version else ""))
    meta = provenance["meta_learner"]
    fitted = meta.get("fitted_to_series")
    return (f"Model **ensemble**: {' · '.join(parts)} · weighting: {provenance['weighting']} · meta-learner "
            f"{meta.get('files_sha256') or 'in memory'}" + (f" fitted to {fitted}" if fitted else "") +
            (f" · {provenance['chronos2']}" if provenance.get("chronos2") else "") +
            f" · device {provenance['device']} · seed "
            f"{provenance['seed']} · {provenance['bars_used']} bars {provenance['history_start']} → "
            f"{provenance['history_end']} · data {provenance['input_sha256']}")


# --- evaluation: the ensemble ranked against its members ----------------------------------------------
def rank(report, members: dict[str, str]) -> pd.DataFrame:
    """The ensemble, each of its ``members`` (key -> name) on the paths it gave the mixture, and the baselines of
    ``report`` (the ensemble's trust report: its walk-forward kept what each member gave it), on the same cut-offs
    and seeds, best first."""
    labels = {k: f"{short_name(k, name)} (member)" for k, name in members.items()}
    return member_ranking(report, members, labels, ENSEMBLE_ROW)


def show_ranking(table: pd.DataFrame) -> pd.DataFrame:
    """The Evaluate page's ranking of the ensemble, its members and the baselines (``rank``)."""
    st.subheader("The ensemble against its members")
    place = int(table.index[table["model"] == ENSEMBLE_ROW][0]) + 1
    best = table["model"].iloc[0]
    st.markdown(f"**The ensemble ranks {place} of {len(table)}** by CRPS on these cut-offs"
                + ("." if place == 1 else f"; lowest CRPS: {best}."))
    vs = table.attrs.get("vs_best_member")
    if vs is not None:
        lo, hi = vs["ci95"]
        verdict = ("the interval spans 0, so no difference beyond noise" if lo <= 0 <= hi else
                   "better than that member beyond noise" if lo > 0 else "worse than that member beyond noise")
        st.markdown(f"Against its best member, {vs['member'].removesuffix(' (member)')}: CRPS skill "
                    f"{signed_percent(vs['crps_skill'])} (95% CI {signed_percent(lo)} to {signed_percent(hi)}); "
                    f"{verdict}.")
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


# --- fitting the ensemble to the series on screen -------------------------------------------------------
def fit_request(bars, choice, settings):
    """The desk's request to fit ``choice``'s ensemble to gated ``bars`` with ``settings``, in the session's
    workspace."""
    from kronos_studio.desk import FitEnsembleRequest  # the ensemble's fitting code loads scipy: only when asked

    from .auth import workspace

    return FitEnsembleRequest(bars, settings, choice, workspace=workspace())


def fit(asked):
    """``Desk.fit_ensemble`` of ``asked`` under a progress bar (the fit: ``EnsembleFitted``)."""
    bar = ProgressBar("Fitting the ensemble to this series", unit="cut-off")
    try:
        return desk().fit_ensemble(asked, progress=lambda name, i, n: bar(i, n))
    finally:
        bar.done()


def fit_panel(bars, choice, settings) -> None:
    """The Evaluate page's "fit to this series": ``Desk.fit_ensemble`` of these bars with these members and settings
    (as ``kronos train ensemble FILE``), stored by series, horizon and members; every later ensemble forecast of
    this series uses it (its model line says "fitted to")."""
    asked = fit_request(bars, choice, settings)
    with st.expander("Fit the ensemble to this series"):
        st.caption(f"Walks every member forward over {asked.n_cutoffs} cut-offs of {bars.symbol} "
                   f"{bars.interval} ({settings.horizon} bars ahead, after the last day any member learned from) "
                   "and fits the mixture's weights there (stacking); its forecasts of this series then use them.")
        try:
            load_model(choice)  # with its download's progress
            stored = desk().fitted_ensemble(asked)
        except Exception as e:  # the model cannot load: the run button reports it
            st.caption(f"Not available: {app_message(e)}")
            return
        if stored is not None:
            info = stored.meta.info.get("provenance", {})
            st.success(f"Fitted on {info.get('cutoffs')} cut-offs {str(info.get('first_cutoff'))[:10]} → "
                       f"{str(info.get('last_cutoff'))[:10]}: weights {format_weights(stored.meta)}.",
                       icon=":material/tune:")
        if not st.button("Fit to this series" if stored is None else "Fit again", key="ens_fit"):
            return
        try:
            done = fit(asked)
        except ValueError as e:
            st.error(f"**Could not fit the ensemble to this series.** {app_message(e)}")
            return
        st.success(f"Fitted: weights {format_weights(done.meta)}. Forecasts of this series now use them.",
                   icon=":material/tune:")


def format_weights(meta) -> str:
    """'HAR 52%, Kronos 31%, ...': the fitted weights (the pooled group's: a series fit has no other)."""
    groups = meta.parameters(meta.method).get("weights") or {}
    weights = groups.get("all") or next(iter(groups.values()), {})
    ranked = sorted(weights.items(), key=lambda kw: -kw[1])
    return ", ".join(f"{short_name(k)} {w:.0%}" for k, w in ranked if w > 0) or meta.method
