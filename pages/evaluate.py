"""Evaluate page (trust panel): walk-forward of the chosen model on the latest cut-offs of the chosen
bars, against naive baselines, with band coverage per step, PIT histogram, skill scores, direction
hit rate and the conformal fan calibration checked on held-out cut-offs."""
import dataclasses
import json

import streamlit as st

from app_support import app_version, ensemble, ledger, risk, trust
from app_support.charts import coverage_chart, pit_chart
from app_support.errors import app_message, app_notice
from app_support.knob_widgets import knob_controls
from app_support.models import served_note
from app_support.page import open_page
from kronos.quantiles import BAND_NAME, band_nominal
from kronos_studio.desk import TrustPlan
from kronos_studio.desk.metrics import signed_percent

st.title("Evaluate: how far to trust the fan")
st.caption("Walk-forward: at each cut-off the model sees only the bars before it, forecasts the next "
           "horizon, and is scored on what really happened; the naive baselines get the same cut-offs. "
           f"A calibrated {BAND_NAME} band holds the actual {band_nominal():.0%} of the time.")
start = open_page(gate_key="ev_fix")
inputs, choice, bars, lookback, settings = start.inputs, start.choice, start.bars, start.lookback, start.settings

plan = TrustPlan(**knob_controls(st, TrustPlan, "ev_", more="More evaluation options", handed=False))
st.caption(f"{choice.label} · horizon {settings.horizon} · lookback {lookback} · {settings.paths} paths · "
           f"seed {settings.seed} · temperature {settings.temperature} · top-p {settings.top_p} · "
           f"top-k {settings.top_k} · {'anchored at the last close' if settings.anchor else 'unanchored'}")

ledger.realized_panel(bars)  # what really happened to the forecasts kept, beside the walk-forward below
clicked = st.button("Run evaluation", type="primary", icon=":material/play_arrow:", key="ev_run")
evaluation = trust.kept(bars, choice, settings, plan)
if clicked and evaluation is None:
    try:
        evaluation = trust.run(bars, choice, settings, plan)
    except Exception as e:  # too little history, model not loadable, anything unforeseen: a message
        st.error(f"**The evaluation could not run.** {app_message(e)}")
        st.stop()
if evaluation is None:
    st.info(f"Press **Run evaluation** to score {choice.label} on "
            f"{plan.words(len(bars), settings.horizon, lookback)}, {settings.paths} paths each, against the naive "
            "baselines.")
    risk.backtest_section(bars, choice, settings)  # it needs no evaluation run
    st.stop()

report = evaluation.report
b = report.badge()
trust.in_sample_banner(b, report.cutoffs)
for notice in evaluation.notices:  # the in-sample banner above already says the guard's note
    if not (b.get("in_training_period_included") and notice.problem == report.guard_line()):
        st.info(app_notice(notice))
for note in report.notes:  # the calibration's (the guard's is a notice above)
    if note != report.guard_line():
        st.info(note)
st.caption(f"{report.cutoffs} cut-offs from {b['first'][:16]} to {b['last'][:16]} · "
           f"{'from the store' if evaluation.from_cache else f'ran in {report.elapsed_s:.1f} s'}")
if served_note(evaluation.walked.model) is not None:  # champion: which adapter (or the base model) was walked
    st.caption(served_note(evaluation.walked.model))
m = st.columns(4)
m[0].metric(f"{BAND_NAME} coverage", f"{b['coverage']:.0%}", f"{(b['coverage'] - b['nominal']) * 100:+.0f} pts vs "
            f"nominal {b['nominal']:.0%}", delta_color="off", delta_arrow="off",
            help=f"{b.get('reference', 'random walk')}: {b.get('reference_coverage', float('nan')):.0%}")
if report.check is not None:
    ck = report.check
    m[1].metric("Held-out coverage, calibrated", f"{ck.after:.0%}", f"raw {ck.before:.0%} on the same "
                f"{ck.n_test} cut-offs", delta_color="off", delta_arrow="off",
                help=f"Calibration fitted on the earliest {ck.n_fit} cut-offs only, scored on the {ck.n_test} "
                     f"later ones. CRPS there: {ck.crps_before:,.3f} raw → {ck.crps_after:,.3f} calibrated."
                     + ("" if ck.guaranteed else " Too few fitting cut-offs for the finite-sample guarantee."))
if "crps_skill" in b:
    s_lo, s_hi = b["crps_skill_ci"]
    m[2].metric("CRPS skill vs random walk", signed_percent(b["crps_skill"]),
                f"95% CI {signed_percent(s_lo)} to {signed_percent(s_hi)}",
                delta_color="off", delta_arrow="off",
                help="1 − CRPS(model) / CRPS(random walk with historical volatility): above 0 the model is better. "
                     "The interval resamples the cut-offs (paired bootstrap); if it spans 0 the difference is noise.")
lo, hi = b["direction_ci"]
m[3].metric("Direction hit at horizon", f"{b['direction']:.0%}", f"95% CI {lo:.0%}–{hi:.0%}",
            delta_color="off", delta_arrow="off",
            help=f"Median path's direction vs the last close, at the last bar, over {report.cutoffs} cut-offs "
                 "(Wilson interval; 50% is a coin)")

left, right = st.columns([3, 2])
left.plotly_chart(coverage_chart(report.coverage_by_step(), b["nominal"], title=f"{BAND_NAME} coverage per step"),
                  key="ev_coverage", config={"displaylogo": False})
edges, shares = report.pit_histogram()
right.plotly_chart(pit_chart(edges, shares, title="PIT histogram (U shape: fan too narrow)"), key="ev_pit",
                   config={"displaylogo": False})

st.subheader("Scores (lower CRPS and MAE are better)")
pct = st.column_config.NumberColumn
st.dataframe(report.table(), key="ev_table",
             column_config={"crps_pct": pct("CRPS, % of price", format="%.3f"),
                            "mae_pct": pct("MAE of median, %", format="%.3f"),
                            "coverage_p10_p90": pct(f"{BAND_NAME} coverage", format="percent"),
                            "direction_hit": pct("direction hit (all steps)", format="percent")})
st.dataframe(report.skill(), key="ev_skill",
             column_config={"crps_skill": pct(f"CRPS skill of {report.model.name}", format="percent"),
                            "crps_skill_lo": pct("95% CI low", format="percent"),
                            "crps_skill_hi": pct("95% CI high", format="percent"),
                            "mae_skill": pct("MAE skill", format="percent")})
st.caption("Skill = 1 − model / baseline: above 0 the model beats the baseline. Persistence is a point "
           "forecast, so its coverage is 0 by construction.")
ranking = ensemble.show_ranking(ensemble.rank(report, evaluation.walked.members)) if choice.mixes else None
if choice.mixes:
    ensemble.fit_panel(bars, choice, settings)
with st.expander("Per cut-off"):
    st.dataframe(report.model.per_cutoff(), hide_index=True, key="ev_cutoff_table")

export = {"app": {"name": "Kronos Studio", "version": app_version()}, "model": choice.key,
          "data": {"symbol": bars.symbol, "interval": bars.interval, "content_sha256": bars.content_hash()},
          "settings": report.settings, "plan": dataclasses.asdict(plan), "badge": b,
          "table": report.table().reset_index().to_dict("records"),
          "skill": report.skill().reset_index().to_dict("records"),
          "coverage_by_step": report.coverage_by_step().reset_index().to_dict("records"),
          "calibration": report.calibration.to_dict() if report.calibration else None}
if ranking is not None:
    export["ensemble_ranking"] = ranking.to_dict("records")
st.download_button("Evaluation JSON", lambda: json.dumps(export, indent=1, default=str),
                   f"kronos_eval_{bars.symbol}_{bars.interval}.json".replace("/", "-"), "application/json",
                   on_click="ignore", icon=":material/download:")

risk.backtest_section(bars, choice, settings)
