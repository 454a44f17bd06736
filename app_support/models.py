"""Which models the app offers, and loading each one once per process (with download progress)."""
from __future__ import annotations

import io
import math
import os
import threading

import streamlit as st
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from kronos.lazy import torch
from kronos.threads import ENV_THREADS, configure, usable_cores
from kronos_studio.desk import WITHHELD, Desk, ModelRef, ModelRegistry
from kronos_studio.desk.cache import ResultCache

from .defaults import start_settings

DECODE_ENV = "KRONOS_STUDIO_DECODE"  # the app's decode mode (``app_decode``)


@st.cache_resource(show_spinner=False)
def results() -> ResultCache:
    """The app's results by ``desk.cache.result_key``, shared by all sessions: forecasts, reports, backtests."""
    return ResultCache()


@st.cache_resource(show_spinner=False)
def app_desk() -> Desk:
    """The app's one desk, shared by all sessions: the process's model registry (a ``Desk``'s default: the one
    ``kronos serve`` and ``kronos mcp`` load through too) and ``results``."""
    return Desk(cache=results())


def model_choices() -> list[ModelRef]:
    """What the sidebar offers (``Desk.models``): local folders, the bundled models, ``champion``, the official
    ones."""
    return app_desk().models()


def app_decode() -> str | None:
    """How the app's pipelines run the decode loop: ``$KRONOS_STUDIO_DECODE`` ('compiled' pays in a
    long-running process: ``kronos.accel.resolve_decode``), else the library's default. Only the app reads
    it: ``kronos serve --decode`` says it explicitly, and one-shot commands never compile (a compile takes
    longer than their forecasts)."""
    from kronos.accel import DECODE_MODES

    decode = os.environ.get(DECODE_ENV) or None
    if decode is not None and decode not in DECODE_MODES:
        raise ValueError(f"{DECODE_ENV}={decode} is not a decode mode: use one of {', '.join(DECODE_MODES)}, "
                         "or leave it unset (eager)")
    return decode


def model_line(provenance: dict, conditioned: bool = False) -> str:
    """The Forecast page's line under a one-model forecast: the model by name with its version, its precision
    (where it has one: Kronos), the device, seed and bars read; Kronos's anchor. ``conditioned``: Chronos-2 read
    covariates (``desk.covariates``), named as it samples (its checkpoint and what it was given), with no anchor."""
    p = provenance
    version = p.get("predictor_revision") or p.get("revision")
    parts = [f"Model **{p['name'] if conditioned else p['model']}**" + (f" ({version})" if version else "")]
    if p.get("precision"):
        parts.append(p["precision"])
    parts += [f"device {p['device']}", f"seed {p['seed']}",
              f"{p['bars_used']} bars {p['history_start']} → {p['history_end']}", f"data {p['input_sha256']}"]
    if not conditioned:
        parts.append(anchor_note(p.get("anchor")))
    return " · ".join(parts)


def served_note(provenance: dict) -> str | None:
    """Which model served a ``champion`` forecast, in words (None for any other model); a champion that did not
    serve these bars (other bars over its window: ``catalog.champion.withheld_reason``) is said first."""
    note = provenance.get("champion")
    if note is None:
        return None
    if provenance.get(WITHHELD):
        return (f"Model **champion**: **the series' champion does not serve these bars**: {note}. If they come from "
                "another exchange, give it in the sidebar (**Exchange**): two exchanges' bars are two series.")
    return f"Model **champion**: {note}"


def progress_tqdm(placeholder, label: str):
    """A tqdm class that draws huggingface_hub's download progress into a Streamlit placeholder
    (its byte counters are updated from download threads, so they get this script run's context)."""
    from tqdm import tqdm

    ctx = get_script_run_ctx()

    class StreamlitTqdm(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs.pop("name", None)
            kwargs.update(file=io.StringIO(), disable=False)
            super().__init__(*args, **kwargs)

        def update(self, n=1):
            out = super().update(n)
            try:
                if ctx is not None:
                    add_script_run_ctx(threading.current_thread(), ctx)
                total = self.total or 0
                if total and self.unit == "B":
                    placeholder.progress(min(1.0, self.n / total),
                                         text=f"{label}: {self.n / 1e6:.1f} of {total / 1e6:.1f} MB")
                elif total:
                    placeholder.progress(min(1.0, self.n / total), text=f"{label}: file {self.n} of {total}")
            except Exception:  # progress display must never break a download
                pass
            return out

    return StreamlitTqdm


def registry() -> ModelRegistry:
    """The process's model registry, the app desk's."""
    return app_desk().registry


def load_model(choice: ModelRef):
    """The model for ``choice``; official models show a download progress bar the first time.
    Raises kronos.checkpoints.CheckpointError (offline and not cached, bad folder) with a clear message."""
    reg = registry()
    wait_for_torch()
    if reg.has(choice.ref, choice.precision):
        return reg.pair(choice.ref, precision=choice.precision)
    slot = st.empty()
    try:
        if choice.downloads:
            slot.progress(0.0, text=f"Loading Kronos-{choice.ref} (downloading from the Hugging Face Hub if needed)…")
            return reg.pair(choice.ref, precision=choice.precision,
                            tqdm_class=progress_tqdm(slot, f"Downloading Kronos-{choice.ref}"))
        with slot.container():
            with st.spinner(f"Loading {choice.label}…"):
                return reg.pair(choice.ref, precision=choice.precision)
    finally:
        slot.empty()


def configure_torch() -> None:
    """CPU threads for sampling (``kronos.threads`` decides each forecast's). On a machine with two cores or
    fewer, one thread unless ``KRONOS_STUDIO_THREADS`` says otherwise: the browser and the server share
    those cores, and OpenMP threads that wait on each other under contention made a 30-path forecast 5-30x
    slower (0.8 s with one thread vs 4-40 s with two, studio-small, horizon 60)."""
    if not os.environ.get(ENV_THREADS) and usable_cores().count <= 2:
        configure(1)


class WarmUp:
    """Once per process, in a background thread started once the first page is drawn (``start``, from
    app.py): import torch (about 2 s cold) and set its threads, then load the default bundled model and build
    the NYSE calendar, so the first click does not pay for them. Started before the page, the import held
    the GIL beside the page's own work and delayed its first paint by about as long (issue 57). With
    ``KRONOS_STUDIO_DECODE=compiled`` it also makes that model's forecast at the Forecast page's starting
    settings, which starts compiling their decode steps in the background, as ``kronos serve --decode
    compiled`` does at start-up: the first forecasts of that shape then find them compiled. Failures are
    left for the page to report."""

    def __init__(self, default: ModelRef | None):
        self.torch_ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(default,), name="kronos-warm-up", daemon=True)
        self._starting = threading.Lock()

    def start(self) -> None:
        """Start the warm-up, once (later calls do nothing)."""
        with self._starting:
            if self.thread.ident is None:
                self.thread.start()

    def _run(self, default: ModelRef | None) -> None:
        try:
            import torch  # noqa: F401

            configure_torch()
            import kronos.checkpoints  # noqa: F401
            import kronos.pipeline  # noqa: F401
        finally:
            self.torch_ready.set()
        reg = registry()  # made here: making it imports torch
        try:
            if default is not None:
                reg.pair(default.ref, precision=default.precision)
            import pandas as pd

            from data_sources import future_timestamps

            future_timestamps(pd.bdate_range("2024-01-02", periods=5, tz="America/New_York"), 5, interval="1d",
                              calendar="XNYS")
        except Exception:
            pass
        # Last: the calendar above serves the first page at once, and a failed warm-up forecast (a bad
        # setting, reported by the page's own forecast) must not cost the first page its calendar.
        if default is not None and reg.has(default.ref, default.precision):
            try:
                self._compile_first_shape(reg, default)
            except Exception:
                pass

    @staticmethod
    def _compile_first_shape(reg: ModelRegistry, default: ModelRef) -> None:
        if app_decode() == "compiled":  # a bad value raises here and is reported by the page's own forecast
            reg.decoding("compiled").warm_up(default, start_settings(default.context))


@st.cache_resource(show_spinner=False)
def warm_up() -> WarmUp:
    bundled = [c for c in model_choices() if c.bundled]
    return WarmUp(bundled[0] if bundled else None)


def wait_for_torch() -> None:
    """Return once torch is imported and its threads set (the warm-up's first step), saying so on the page
    while it loads: the first page does not wait for torch, a computation does."""
    warm = warm_up()
    if warm.torch_ready.is_set():
        return
    warm.start()  # a computation asked for before any page was drawn (a script, a test)
    with st.spinner("Loading torch (once per app process)…"):
        warm.torch_ready.wait()


def device_label() -> str:
    if not warm_up().torch_ready.is_set():
        return "detecting… (loading torch in the background)"

    from kronos.device import default_device

    dev = default_device()
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)})"
    if dev.type == "cpu":
        from kronos.threads import budget_report

        n = budget_report().get("threads", torch.get_num_threads())
        return f"cpu ({n} thread{'' if n == 1 else 's'})"
    return str(dev)


def anchor_note(anchor: dict | None) -> str:
    """The model line's words for the anchor (``Forecast.provenance["anchor"]``)."""
    if not anchor or not anchor.get("applied"):
        return "unanchored: the official output, starting from the tokenizer's reconstruction of the last bar"
    return (f"anchored at the last close (the tokenizer rebuilt it {math.expm1(anchor['offset_log']):+.2%}; every "
            "path moved back by that)")
