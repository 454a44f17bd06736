"""The shared sidebar (data, model, sampling), drawn by app.py on every page; pages read its values."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from data_sources.quality import finding_of_fix
from data_sources.requests import BarsRequest
from kronos.config import MIN_BAND_PATHS, MIN_HISTORY
from kronos.settings import DEFAULT_HORIZON, DEFAULT_PRECISION, PRECISIONS, ForecastSettings, default, knobs
from kronos_studio.desk import CHEAP_MEMBER_PATHS, ModelRef
from kronos_studio.desk.models import chronos2_member, ensemble_mixable

from . import conditioned, source_inputs
from .data import hand_file, instrument_key
from .defaults import start_lookback
from .errors import app_message
from .knob_widgets import knob_controls
from .models import device_label, model_choices, progress_tqdm
from .source_inputs import first_value

STATE_KEY = "studio_inputs"
HANDED_KEY = "_studio_handed"  # session state: a forecast handed to the Forecast page (``hand``), until shown
RUN_HANDED_KEY = "_studio_run_handed"  # session state: set once a handed forecast is shown, for the page to run it
MAX_LOOKBACK = 2048  # no model chosen: the largest context of the official models


@dataclass
class Inputs:
    source: str
    sample: str | None
    symbol: str
    exchange: str
    interval: str
    upload: object | None  # streamlit UploadedFile
    timezone: str | None  # for uploads
    calendar: str | None  # for uploads
    lookback: int
    horizon: int
    model: ModelRef | None
    models: list[ModelRef]
    paths: int
    seed: int
    sampling: dict  # each sampling knob of ForecastSettings (kronos.settings.knobs) -> its value
    adjusted: bool = True  # bundled samples: split-adjusted (the raw file one toggle away)
    covariates: tuple[str, ...] = ()  # "Condition on": other series' references (app_support.conditioned)

    def settings(self, lookback: int | None = None, horizon: int | None = None):
        return ForecastSettings(horizon=horizon or self.horizon, paths=self.paths, seed=self.seed,
                                lookback=lookback or self.lookback, **self.sampling)

    def settings_or_stop(self, lookback: int):
        """The settings, or a message naming the bad one and a stopped page."""
        try:
            return self.settings(lookback=lookback)
        except ValueError as e:  # kronos.pipeline.InputError
            st.error(f"**Check the sampling settings:** {app_message(e)}")
            st.stop()

    def lookback_for(self, choice: ModelRef | None) -> int:
        """The lookback a model reads: the one chosen, never more than the model's context (a model
        compared beside a larger one reads its own maximum)."""
        if choice is None:
            return self.lookback
        return max(MIN_HISTORY, min(self.lookback, choice.context))

    def slides(self, choice: ModelRef | None) -> int:
        """Sampling steps that recompute a sliding window (exact, but a full pass each): those whose
        bars no longer fit the model's context after the lookback."""
        return 0 if choice is None else choice.slides(self.lookback_for(choice), self.horizon)


@dataclass(frozen=True)
class Handed:
    """A forecast handed to the Forecast page (a Screener row): its bars (a source's series, or a ``file`` with
    its ``calendar`` and, in a file of several instruments, the ``symbol``; the gate's ``fixes`` accepted), the
    model (its catalog key, reading at most ``context`` bars) and the settings."""

    bars: BarsRequest
    model_key: str
    context: int
    settings: ForecastSettings


def widget_state(handed: Handed) -> tuple[dict | None, str | None]:
    """(the sidebar's and the quality gate's widget values that show ``handed``, None) or (None, why the sidebar
    cannot show it)."""
    r, f = handed.bars, handed.settings
    state = {"sb_model": handed.model_key, "sb_horizon": f.horizon, f"sb_lookback_{handed.context}": f.lookback,
             "sb_paths": f.paths, "sb_seed": f.seed, **{f"sb_{name}": getattr(f, name) for name in knobs()}}
    state.update({f"fix_{finding_of_fix(fix)}": True for fix in r.fixes})  # the gate's checkboxes, by finding
    if r.file is not None:  # the file's bytes are handed over by ``take_handed``
        if not Path(r.file).is_file():
            return None, f"{Path(r.file).name} is no longer on disk: upload it on the Forecast page"
        shown, why = source_inputs.series_state(None, calendar=r.calendar)
    else:
        shown, why = source_inputs.series_state(r.source, r.symbol, r.interval, r.exchange)
    return (None, why) if shown is None else ({**state, **shown}, None)


def hand(handed: Handed) -> None:
    """Hand ``handed`` to the Forecast page: the sidebar shows it on its next draw, and the page runs it."""
    st.session_state[HANDED_KEY] = handed


def take_handed() -> None:
    """Before the widgets are drawn: a handed forecast's values put into them, once."""
    handed = st.session_state.pop(HANDED_KEY, None)
    state, _ = widget_state(handed) if handed is not None else (None, None)
    if state is None:
        return
    st.session_state.update(state)
    file = handed.bars.file
    if file is not None:  # a file uploader cannot be set by code: the bytes go apart
        data = Path(file).read_bytes()
        hand_file(Path(file).name, data)
        if handed.bars.symbol is not None:  # a file of several instruments: its picker shows this one
            st.session_state[instrument_key(hashlib.sha256(data).hexdigest())] = handed.bars.symbol
    st.session_state[RUN_HANDED_KEY] = True


def handed_here() -> bool:
    """True once, on the page run after a handed forecast was shown (the Forecast page runs it at once)."""
    return st.session_state.pop(RUN_HANDED_KEY, None) is not None


def render() -> Inputs:
    take_handed()
    sb = st.sidebar
    sb.markdown("### Data")
    source, chosen = source_inputs.render(sb)
    sb.markdown("### Model")
    choices = model_choices()
    by_key = {c.key: c for c in choices}
    model_key = sb.selectbox("Model", list(by_key), format_func=lambda k: by_key[k].label, key="sb_model")
    model = by_key.get(model_key)
    if not any(c.local for c in choices):
        sb.warning("No bundled model found (they ship inside the kronos_studio package): offline forecasts need one. "
                   "Official models download from the Hugging Face Hub when online.")
    can_mix = ensemble_mixable()
    mix = sb.toggle("Ensemble", key="sb_ensemble", disabled=not can_mix,
                    help="This Kronos model mixed with HAR, GJR-GARCH, GARCH, the random walk and the bootstrap, "
                         "weighted by the bundled meta-learner (trained with the bundled Kronos; with another "
                         "Kronos the members are weighed equally, and the fan says so). Chronos-2 joins when its "
                         "weights are on this machine: amazon/chronos-2 in the Hugging Face cache, or the folder "
                         "named by $KRONOS_STUDIO_CHRONOS2 ('off' leaves it out)" if can_mix else
                         "The bundled meta-learner's files are missing: reinstall kronos-studio")
    if mix and model is not None and model.per_series:
        sb.info("**champion** is one Kronos model per series (its promoted adapter, else the base), not one to "
                "mix: it forecasts alone. Choose a bundled model to mix it into the ensemble.")
    elif mix and model is not None:
        model = model.ensemble_of()
        chronos2_panel(sb)
    # Compare can rank the ensemble over each bundled model beside the single models.
    choices = [*choices, *(c.ensemble_of() for c in choices if c.bundled)]
    precision = sb.segmented_control(
        "Precision", PRECISIONS, default=DEFAULT_PRECISION, key="sb_precision",
        help="The Kronos predictor's arithmetic. fp32: the official numbers. bf16: half the memory and faster "
             "where the CPU or GPU has bf16 units (slower on CPUs without them); the same forecast distribution, "
             "not the same numbers (each fan says which it used)") or DEFAULT_PRECISION
    choices = [c.with_precision(precision) for c in choices]
    model = model.with_precision(precision) if model is not None else None
    sb.caption(f"Device: **{device_label()}**")
    sb.markdown("### Condition on")
    covariates = conditioned.controls(sb)

    # The lookback never offers more than the model reads; its default leaves room for the horizon in
    # the model's window, so every sampling step reuses the KV cache.
    c1, c2 = sb.columns(2)
    horizon = c2.number_input("Horizon (bars)", 1, 512, step=5, key=first_value("sb_horizon", DEFAULT_HORIZON),
                              help="Bars to forecast. Past the model's context the window slides: every step "
                                   "recomputes it (slower), and each bar is decoded from the last context bars")
    context = model.context if model is not None else MAX_LOOKBACK
    first_lookback = start_lookback(context, int(horizon))
    reads = f"Context bars the model reads: at most {context} for this model"
    if model is not None and model.mixes:  # GARCH fits on up to 500 returns: all 520 by default
        first_lookback, reads = context, (f"Bars of history the ensemble's members see: at most {context} (GARCH fits on "
                                   "the last 500 returns); its Kronos member reads at most context − horizon of them")
    lookback = c1.number_input("Lookback (bars)", MIN_HISTORY, context, step=16,
                               key=first_value(f"sb_lookback_{context}", first_lookback), help=reads)

    sb.markdown("### Sampling")
    c1, c2 = sb.columns(2)
    paths = c1.number_input("Sample paths", MIN_BAND_PATHS, 1000, step=10, key=first_value("sb_paths", default("paths")),
                            help=f"At least {MIN_BAND_PATHS}: one path has no band and a P(up) of 0% or 100%")
    seed = c2.number_input("Seed", 0, 2**31 - 1, key=first_value("sb_seed", default("seed")))
    sampling = sampling_controls(sb)
    if model is not None and model.mixes:
        sb.caption(f"Ensemble: {knob_names()} go to its Kronos member, which samples this many paths "
                   f"(the statistical members draw at least {CHEAP_MEMBER_PATHS}: their quantiles are read); the "
                   "mixture has this many paths and the seed drives them all.")
    inputs = Inputs(source, chosen.sample or None, chosen.symbol, chosen.exchange, chosen.interval, chosen.upload,
                    chosen.timezone or None, chosen.calendar or None, int(lookback), int(horizon), model, choices,
                    int(paths), int(seed), sampling, chosen.adjusted, covariates)
    st.session_state[STATE_KEY] = inputs
    return inputs


def knob_names() -> str:
    """The sampling knobs as a sentence names them, from their labels (``kronos.settings.knobs``):
    'temperature, top-p, top-k, clip and start the fan at the last close'."""
    names = [knob.label.split(" (")[0].lower() for _, knob in knobs().values()]
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else "".join(names)


def sampling_controls(sb) -> dict:
    """A widget per sampling knob of ``ForecastSettings`` (``kronos.settings.knobs``), keyed ``sb_<name>``:
    the often changed ones in the sidebar, the rest folded away; name -> value."""
    return knob_controls(sb, None, "sb_", more="More sampling options")


def current() -> Inputs:
    """The sidebar's values for this run (app.py draws the sidebar before the page runs)."""
    inputs = st.session_state.get(STATE_KEY)
    if inputs is None:
        inputs = render()
    return inputs


def chronos2_panel(sb) -> None:
    """Whether the ensemble's Chronos-2 member is on this machine (looked up without the network), and a
    button that downloads the Hub model once when it is not."""
    from kronos.checkpoints import CheckpointError, is_hub_id, resolve

    member = chronos2_member()
    ref = member.ref
    if ref is None:
        sb.caption("Chronos-2: left out ($KRONOS_STUDIO_CHRONOS2=off)")
        return
    if member.ready:
        sb.caption(f"Chronos-2: {ref} joins the members (the bundled meta-learner was trained without it: equal "
                   "weights, unless fitted to this series on Evaluate)")
        return
    if not is_hub_id(ref):  # a folder, not a Hub id: nothing to download
        sb.caption(f"Chronos-2: {ref} ($KRONOS_STUDIO_CHRONOS2) is not a folder on this machine, so the ensemble "
                   "goes without it")
        return
    sb.caption(f"Chronos-2: {ref} is not on this machine, so the ensemble goes without it")
    if sb.button(f"Download {ref}", key="sb_chronos2_download",
                 help="Once, from the Hugging Face Hub (needs the internet); it then joins every ensemble forecast"):
        slot = sb.empty()
        try:
            # Only the files: the next ensemble forecast loads (and checks) them, once per process.
            resolve(ref, tqdm_class=progress_tqdm(slot, f"Downloading {ref}"))
        except CheckpointError as e:
            slot.error(f"Chronos-2 was not downloaded: {app_message(e)}")
            return
        slot.success(f"{ref} downloaded: it joins the ensemble's next forecast")
