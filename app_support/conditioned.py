"""The sidebar's "Condition on": other series (bundled samples, an uploaded file) a forecast reads beside its
target. The app only translates: the covariates become a ``CovariateOptions`` and the forecast is the app's desk's
(``forecasts.desk``, ``Desk.forecast`` with ``covariates``), by the model that reads them, Chronos-2; its
caption says what it was conditioned on and what has been measured of the gain."""
from __future__ import annotations

import hashlib
from pathlib import Path

import streamlit as st

from data_sources.samples import list_samples
from data_sources.storage import storage_path
from kronos.settings import knobs
from kronos_studio.desk import CovariateOptions, ForecastRequest, Gated
from kronos_studio.desk.covariates import CONDITIONED_MODEL, MEASURED, conditioned_note, covariate_label

from .errors import app_message
from .forecasts import desk

UPLOAD_KEY = "sb_cond_upload"
SAMPLES_KEY = "sb_condition_on"
RESULT_KEY = "conditioned_results"  # session state: request -> Forecasted, so a rerun shows what was run


def _knob():
    return knobs(CovariateOptions)["covariates"][1]


def controls(sb) -> tuple[str, ...]:
    """The "Condition on" widgets (the sample picker and an upload); the covariate references chosen. Every
    sample is offered, the target's too (a list that changed with the target would drop a kept choice): the
    desk refuses the target itself, saying so."""
    knob = _knob()
    names = [s.name for s in list_samples()]
    chosen = sb.multiselect(knob.label, names, key=SAMPLES_KEY, help=f"{knob.help}. Read by Chronos-2 "
                            f"({CONDITIONED_MODEL}), the model that reads other series; forecast on the Forecast "
                            "page, with and without on Compare")
    upload = sb.file_uploader("Condition on a file", type=["csv", "parquet", "pq"], key=UPLOAD_KEY,
                              help="another series' bars (CSV or Parquet), read beside the target")
    refs = list(chosen)
    if upload is not None:
        refs.append(str(_kept_upload(upload)))
    return tuple(refs)


def _kept_upload(upload) -> Path:
    """The uploaded covariate as a file the desk reads, under its own name (its series is named after it, as the
    target's upload is) in a folder named by its content (the same file is one reference)."""
    data = upload.getvalue()
    folder = storage_path("covariates") / hashlib.sha256(data).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / Path(upload.name).name
    if not path.exists():
        path.write_bytes(data)
    return path


def options(refs: tuple[str, ...]):
    return CovariateOptions(covariates=refs)


def _request(bars, settings, refs) -> tuple:
    return bars.content_hash(), settings, tuple(refs)


def stored(bars, settings, refs):
    """The conditioned forecast run before in this session for the same bars, settings and covariates, or None."""
    return st.session_state.get(RESULT_KEY, {}).get(_request(bars, settings, refs))


def run(bars, settings, refs, future=None):
    """The desk's forecast of ``bars`` by Chronos-2 conditioned on ``refs`` (none: Chronos-2 alone), kept for this
    session's reruns: a ``desk.Forecasted`` (its notices are the bars' and the covariates')."""
    from .auth import workspace

    with st.spinner(f"Chronos-2 conditioned on {len(refs)} series: sampling {settings.paths} paths"):
        done = desk().forecast(ForecastRequest(Gated(bars), CONDITIONED_MODEL, settings, workspace(), future,
                                               options(refs)))
    st.session_state.setdefault(RESULT_KEY, {})[_request(bars, settings, refs)] = done
    return done


def measured_words() -> str:
    return MEASURED


def caption(fc) -> str:
    """What a conditioned forecast read, in words (``desk.covariates.conditioned_note``)."""
    return conditioned_note(fc.provenance)


def short_name(ref: str) -> str:
    """A covariate as a label names it: a sample by its name, an uploaded file by its own name."""
    return covariate_label(ref)


def model_tag(refs) -> str:
    """The model part of a conditioned forecast's download names: the model that sampled it (Chronos-2, not the
    sidebar's model) and what it was given, 'chronos2-small_given_SPX' ('…_alone' for none)."""
    given = "+".join(Path(short_name(r)).stem for r in refs)
    return f"{CONDITIONED_MODEL}_given_{given}" if refs else f"{CONDITIONED_MODEL}_alone"


def with_and_without(bars, settings, refs, clicked: bool) -> dict:
    """{label: Forecast} of Chronos-2 with ``refs`` and alone, on the same bars, settings and seed (run on
    ``clicked``, else as run before in this session); a refusal is said and stops the page."""
    out = {}
    for label, asked in ((f"Chronos-2 given {', '.join(map(short_name, refs))}", refs), ("Chronos-2 alone", ())):
        done = stored(bars, settings, asked)
        if done is None and clicked:
            try:
                done = run(bars, settings, asked)
            except Exception as e:
                st.error(f"**{label} could not run.** {app_message(e)}")
                st.stop()
        if done is not None:
            out[label] = done.forecast
    return out
