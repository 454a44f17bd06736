"""Fine-tune page: LoRA + event embedding on the chosen bars (base model frozen), with a progress bar,
then a before/after walk-forward evaluation on the held-out end of the data."""
import dataclasses
import io
import re
import time
import zipfile

import pandas as pd
import streamlit as st

from app_support import adapters, data, lineage, trust
from app_support import ledger as app_ledger
from app_support.charts import CHART_CONFIG
from app_support.errors import app_message
from app_support.formats import metric_delta
from app_support.models import load_model
from app_support.page import open_page
from kronos.quantiles import BAND_NAME
from kronos_studio.evaluation.trust import TrainingPeriodError, guard_note
from kronos_studio.ledger import LedgerError
from kronos_studio.training.before_after import NO_EVENTS_NOTE
from kronos_studio.training.retrain import RetrainError, SeriesLocked

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

c = st.columns(4)
steps = c[0].number_input("Steps", 1, 5000, 150, step=50, key="ft_steps")
batch = c[1].number_input("Batch (windows)", 1, 128, 16, key="ft_batch")
lr = c[2].number_input("Learning rate", 1e-5, 1e-1, 1e-3, format="%.5f", key="ft_lr")
window = c[3].number_input("Window (bars)", 16, 2048, min(128, choice.context), step=16, key="ft_window",
                           help="History + target bars per training window (at most the model's context)")
c = st.columns(4)
val_frac = c[0].slider("Validation share", 0.05, 0.4, 0.15, key="ft_val")
test_frac = c[1].slider("Held-out test share", 0.05, 0.5, 0.2, key="ft_test")
cutoffs = c[2].number_input("Walk-forward cut-offs", 2, 100, 10, key="ft_cutoffs")
eval_paths = c[3].number_input("Paths per cut-off", 2, 200, 20, key="ft_paths")
include_trained = trust.include_trained_toggle("ft_include_trained")
default_name = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{bars.symbol}-{bars.interval}-events").strip("-.")
name = st.text_input("Adapter name", default_name, key="ft_name",
                     help="A plain folder name under the studio's adapters folder")

try:
    folder = adapters.adapter_folder(name.strip())
except ValueError as e:
    st.error(f"**Adapter name refused.** {app_message(e)}".replace("\\", "\\\\"))  # markdown: a backslash shown as one
    st.stop()

if not st.button("Run fine-tuning", type="primary", icon=":material/model_training:", key="ft_run"):
    if "ft_result" in st.session_state:
        st.info("Showing the last fine-tuning run of this session.")
    else:
        st.stop()
else:
    from kronos_studio.events import EventBuilder
    from kronos_studio.training.adapters import apply_adapter
    from kronos_studio.training.before_after import BeforeAfterOptions, before_after
    from kronos_studio.training.datasets import DataError, as_series, build_train_data, fraction_split
    from kronos_studio.training.loop import TrainConfig
    from kronos_studio.training.lora import finetune_lora

    # the sidebar's sampling settings whole, with this page's paths; no lookback: each model reads its own
    # window of the cut-off's history (Kronos: context - horizon)
    settings = dataclasses.replace(inputs.settings_or_stop(inputs.lookback), paths=int(eval_paths), lookback=None)
    try:
        pair = load_model(choice)
        window = int(min(window, pair.context))
        series = as_series(bars)
        split = fraction_split(series, float(val_frac), float(test_frac))
        lookback = max(2, window * 3 // 4)
        train_data = build_train_data([series], split, window, lookback, stride=1)
    except (DataError, ValueError) as e:
        st.error(f"**Cannot build training windows.** {app_message(e)}")
        st.stop()
    builder = EventBuilder(calendar) if calendar is not None else EventBuilder()
    bar = st.progress(0.0, text="Fine-tuning: preparing…")
    started = time.perf_counter()

    def progress(step, total, record):
        if step % max(1, total // 100) and step != total:
            return
        el = time.perf_counter() - started
        loss = f" · val loss {record['val_loss']:.4f}" if "val_loss" in record else ""
        bar.progress(step / total, text=f"Fine-tuning: step {step} of {total} · {el:.0f} s · "
                                        f"ETA {el / step * (total - step):.0f} s{loss}")

    cfg = TrainConfig(steps=int(steps), batch_size=int(batch), lr=float(lr), warmup_steps=max(1, int(steps) // 20),
                      weight_decay=0.0, grad_clip=1.0, eval_every=max(1, int(steps) // 5), val_windows=64,
                      log_every=max(1, int(steps) // 20))
    try:
        result = finetune_lora(pair, train_data, builder, cfg, folder, name=folder.name, log=None, progress=progress,
                               run_info={"data": data.describe(bars), "calendar": getattr(calendar, "name", None)})
    except Exception as e:
        st.error(f"**Fine-tuning failed.** {app_message(e)}")
        st.stop()
    bar.empty()
    adapted = apply_adapter(pair, result.adapter)
    ev_bar = st.progress(0.0, text="Walk-forward evaluation…")
    names = []

    def eval_progress(model, i, n):
        if model not in names:
            names.append(model)
        ev_bar.progress(min(1.0, (len(names) - 1 + i / n) / 6), text=f"Walk-forward: {model} ({i}/{n})")

    res = refused = None
    try:
        res = before_after(pair, adapted, series.frame, builder, settings, BeforeAfterOptions(
            start=split.test_start, n_cutoffs=int(cutoffs), min_history=lookback,
            include_training_period=include_trained, progress=eval_progress))
    except TrainingPeriodError as e:
        refused = trust.refusal_detail(e)
    except ValueError as e:
        st.warning(f"No walk-forward evaluation: {app_message(e)}. Use a larger test share or a shorter horizon.")
    ev_bar.empty()

    st.session_state["ft_result"] = {
        "counts": result.counts, "base_val": result.base_val, "best_val": result.best_val,
        "best_step": result.best_step, "history": pd.DataFrame(result.history), "folder": folder,
        "table": None if res is None else res.table(), "guard": None if res is None else res.guard,
        "events_empty": res is not None and res.events_empty, "refused": refused, "test_start": split.test_start,
    }

r = st.session_state["ft_result"]
k = r["counts"]
m = st.columns(4)
m[0].metric("Trainable parameters", f"{k['trainable']:,}", help=f"LoRA {k['lora']:,} + event embedding "
            f"{k['event_emb']:,}")
m[1].metric("Total parameters", f"{k['total']:,}", f"{k['trainable_pct']:.2f}% trained", delta_color="off")
if r["base_val"] is not None:
    m[2].metric("Validation loss", f"{r['best_val']:.4f}",
                **metric_delta(r["best_val"] - r["base_val"], 4, "vs base", lower_is_better=True))
m[3].metric("Best step", r["best_step"])
hist = r["history"]
if len(hist) and "val_loss" in hist:
    curve = hist.set_index("step")[["train_loss", "val_loss"]].dropna(how="all")
    if len(curve) >= 2:
        st.line_chart(curve, height=220)
    else:  # one point is no curve (it drew an empty chart with one tick label)
        st.caption("Loss curve: one logged step only ("
                   + ", ".join(f"{k.replace('_', ' ')} {v:.4f}" for k, v in curve.iloc[0].dropna().items())
                   + "); train for more steps to see one.")
if r["refused"]:
    st.error(f"**The before/after evaluation could not run.** {r['refused']}")
if r["table"] is not None:
    st.subheader(f"Before / after: walk-forward on the held-out bars from {r['test_start']}")
    trust.in_sample_banner(r["guard"], int(r["table"]["cutoffs"].iloc[0]))
    note = guard_note(r["guard"])
    if note and not r["guard"]["in_training_period_included"]:  # included: the banner above says it
        st.info(note)
    cols = ["crps_pct", "mae_pct", "coverage_p10_p90", "direction_hit", "cutoffs", "horizon", "paths"]
    st.dataframe(r["table"][cols], key="ft_table",
                 column_config={"crps_pct": st.column_config.NumberColumn("CRPS % (lower is better)", format="%.3f"),
                                "mae_pct": st.column_config.NumberColumn("MAE of median %", format="%.3f"),
                                "coverage_p10_p90": st.column_config.NumberColumn(f"{BAND_NAME} coverage", format="%.2f"),
                                "direction_hit": st.column_config.NumberColumn("direction hit rate", format="%.2f")})
    if r["events_empty"]:
        st.info(NO_EVENTS_NOTE, icon=":material/event_busy:")
    else:
        st.caption("The adapter is compared with the base model on the same cut-offs and seeds, with events and "
                   "without (the no-events row isolates what the LoRA weights alone changed).")
folder = r["folder"]
st.success(f"Adapter saved to `{folder}`; pick it on the Forecast page (Event calendar and LoRA adapter).")
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    for f in sorted(folder.iterdir()):
        if f.is_file():
            z.write(f, f"{folder.name}/{f.name}")
st.download_button("Download adapter (zip)", buf.getvalue(), f"{folder.name}.zip", "application/zip",
                   on_click="ignore", icon=":material/download:")
