"""Fine-tune page: LoRA + event embedding on the chosen bars (base model frozen), with a progress bar,
then a before/after walk-forward evaluation on the held-out end of the data."""
import dataclasses
import io
import re
import zipfile

import pandas as pd
import streamlit as st

from app_support import adapters, fine_tuning, lineage, trust
from app_support import ledger as app_ledger
from app_support.charts import CHART_CONFIG
from app_support.errors import app_message, app_notice
from app_support.formats import metric_delta
from app_support.knob_widgets import knob_controls
from app_support.page import open_page
from kronos.quantiles import BAND_NAME
from kronos_studio.desk import FineTunePlan, RetrainError, SeriesLocked, TrainingPeriodError
from kronos_studio.desk.ledger import LedgerError

st.title("Fine-tune with events (LoRA)")
st.caption("Trains rank-8 LoRA adapters on the attention q/v projections and the event embedding "
           "(20 event channels: macro release flags, surprises, days to the next release, leader returns); "
           "every other weight stays frozen. The bars are split by time: training, validation (model "
           "selection), and a held-out test period for the before/after evaluation.")
start = open_page(gate_key=None, settings=False)
inputs, choice, bars = start.inputs, start.choice, start.bars

# A key keeps the expander the same element across reruns, whatever its content (it stays open).
with st.expander("Event calendar", icon=":material/event:", expanded=False, key="ft_calendar_box"):
    calendar, *_ = adapters.controls(bars, choice, pick_adapter=False)
gap = adapters.coverage_gap(calendar, bars)
if gap:
    st.warning(gap, icon=":material/event_busy:")

if not choice.mixes:  # what Retrain now (in the section below) trains and judges with; not nested: Streamlit refuses
    with st.expander("Retrain settings", icon=":material/tune:", expanded=False, key="ft_retrain_box"):
        st.caption("How **Retrain now** trains the challenger and judges it; its horizon is the sidebar's.")
        retrain_options = lineage.retrain_controls(st)

with st.expander("This series' adapters: the gated retrain and its lineage", icon=":material/account_tree:",
                 expanded=True, key="ft_lineage_box"):
    st.caption("**Retrain now** trains a LoRA challenger on the latest bars and scores it against the series' "
               "champion (or the base model) on held-out cut-offs after its data: it serves (the model `champion`) "
               "only if the 95% interval of the CRPS difference excludes 0 in its favour (docs/learning.md).")
    # the same training-period guard and switch as the evaluations on this page and on Evaluate
    include_in_retrain = not choice.mixes and trust.include_trained_toggle("ft_retrain_include_trained")
    if choice.mixes:  # said, never a button that vanishes without a word
        st.caption("**Retrain now** trains a challenger on one Kronos model, and the ensemble mixes several: choose "
                   "a Kronos model, or **champion** (the series' champion's base), under **Model** in the sidebar.")
    elif st.button("Retrain now", icon=":material/autorenew:", key="ft_retrain",
                   help="On the model chosen in the sidebar; with champion, on the base the series' champion was "
                        "trained on (the bundled default when it has none)"):
        bar = st.progress(0.0, text="Training the challenger and scoring it…")
        try:
            decision = lineage.retrain_now(choice, bars, inputs.horizon, include_in_retrain,
                                           progress=lambda share, text: bar.progress(share, text=text),
                                           options=retrain_options)
        except (RetrainError, SeriesLocked, LedgerError, TrainingPeriodError) as e:
            bar.empty()  # a refusal leaves no bar that never moved above it
            st.error(f"**No retrain.** {app_message(e)}")
        else:
            shown = st.success if decision["decision"] == "promoted" else st.info
            shown(f"Adapter {decision['challenger']} {decision['decision']}: {decision['reason']}")
    table = lineage.lineage(bars)
    if table is None:
        app_ledger.warn_unavailable("the adapter registry cannot be read")
    elif table.empty:
        st.caption("No adapter has been retrained for this series yet: the base model serves.")
    else:
        st.dataframe(table, hide_index=True, key="ft_lineage")
        events = lineage.history(bars)
        if events:
            st.plotly_chart(lineage.timeline_chart(events), key="ft_timeline", config=CHART_CONFIG)
            st.caption("Each marker is one move kept in the registry's history: hover it for the adapter, what made "
                       "it (the gate, a manual promote that bypassed the gate, a rollback), its reason and the CRPS "
                       "scores the gate saw.")

if choice.per_series:  # fine-tuning trains on one base model; champion is a different adapter per series
    st.info("**Fine-tuning trains an adapter on a base model**, and **champion** is the adapter each series is "
            "served by: choose a base model under **Model** in the sidebar to fine-tune.", icon=":material/info:")
    st.stop()

plan = FineTunePlan(**knob_controls(st, FineTunePlan, "ft_", more="More training options", handed=False))
default_name = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{bars.symbol}-{bars.interval}-events").strip("-.")
name = st.text_input("Adapter name", default_name, key="ft_name",
                     help="A plain folder name under the studio's adapters folder")

try:
    folder = adapters.adapter_folder(name.strip())
except ValueError as e:
    st.error(f"**Adapter name refused.** {app_message(e)}".replace("\\", "\\\\"))  # markdown: a backslash shown as one
    st.stop()

if st.button("Run fine-tuning", type="primary", icon=":material/model_training:", key="ft_run"):
    # the sidebar's sampling settings whole (its paths too); no lookback: each model reads its own window of the
    # cut-off's history (Kronos: context - horizon)
    settings = dataclasses.replace(inputs.settings_or_stop(inputs.lookback), lookback=None)
    try:
        done = fine_tuning.run(bars, choice, settings, plan, folder, calendar)
    except Exception as e:  # too few bars for a window, the model not loadable: a message
        st.error(f"**Fine-tuning failed.** {app_message(e)}")
        st.stop()
    st.session_state["ft_result"] = done
elif "ft_result" in st.session_state:
    st.info("Showing the last fine-tuning run of this session.")
else:
    st.stop()

r = st.session_state["ft_result"]
k = r.counts
for notice in r.notices:
    st.info(app_notice(notice))
m = st.columns(4)
m[0].metric("Trainable parameters", f"{k['trainable']:,}", help=f"LoRA {k['lora']:,} + event embedding "
            f"{k['event_emb']:,}")
m[1].metric("Total parameters", f"{k['total']:,}", f"{k['trainable_pct']:.2f}% trained", delta_color="off")
if r.base_val is not None:
    m[2].metric("Validation loss", f"{r.best_val:.4f}",
                **metric_delta(r.best_val - r.base_val, 4, "vs base", lower_is_better=True))
m[3].metric("Best step", r.best_step)
hist = pd.DataFrame(r.history)
if len(hist) and "val_loss" in hist:
    curve = hist.set_index("step")[["train_loss", "val_loss"]].dropna(how="all")
    if len(curve) >= 2:
        st.line_chart(curve, height=220)
    else:  # one point is no curve (it drew an empty chart with one tick label)
        st.caption("Loss curve: one logged step only ("
                   + ", ".join(f"{k.replace('_', ' ')} {v:.4f}" for k, v in curve.iloc[0].dropna().items())
                   + "); train for more steps to see one.")
for refusal in r.refused.values():
    st.error(f"**The before/after evaluation could not run.** {app_message(refusal)}")
for res in r.evaluations.values():
    table = res.table()
    st.subheader(f"Before / after: walk-forward on the held-out bars from {r.start}")
    trust.in_sample_banner(res.guard, int(table["cutoffs"].iloc[0]))
    note = res.guard_line()
    if note and not res.guard["in_training_period_included"]:  # included: the banner above says it
        st.info(note)
    cols = ["crps_pct", "mae_pct", "coverage_p10_p90", "direction_hit", "cutoffs", "horizon", "paths"]
    st.dataframe(table[cols], key="ft_table",
                 column_config={"crps_pct": st.column_config.NumberColumn("CRPS % (lower is better)", format="%.3f"),
                                "mae_pct": st.column_config.NumberColumn("MAE of median %", format="%.3f"),
                                "coverage_p10_p90": st.column_config.NumberColumn(f"{BAND_NAME} coverage", format="%.2f"),
                                "direction_hit": st.column_config.NumberColumn("direction hit rate", format="%.2f")})
    if res.events_empty:
        st.info(res.notes()[-1], icon=":material/event_busy:")
    else:
        st.caption("The adapter is compared with the base model on the same cut-offs and seeds, with events and "
                   "without (the no-events row isolates what the LoRA weights alone changed).")
folder = r.folder
st.success(f"Adapter saved to `{folder}`; pick it on the Forecast page (Event calendar and LoRA adapter).")
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    for f in sorted(folder.iterdir()):
        if f.is_file():
            z.write(f, f"{folder.name}/{f.name}")
st.download_button("Download adapter (zip)", buf.getvalue(), f"{folder.name}.zip", "application/zip",
                   on_click="ignore", icon=":material/download:")
