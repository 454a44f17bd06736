"""The app's words for a library error: each setting a fix names (``kronos.errors.Fix``) becomes the control
that sets it, as its label reads on screen (the command line names flags, the HTTP API request fields)."""
from __future__ import annotations

from data_sources.errors import in_studio_words
from kronos.errors import first_line, plain_name, refusal, with_type
from kronos.settings import knobs
from kronos_studio.desk import CovariateOptions, FineTunePlan, RankPlan, RetrainSettings, RiskSettings, TrustPlan

# setting -> the label of the control that sets it (tests/app/test_support.py checks each is on screen): the labels
# of the options generated from a Knob are their Knob's, which the Screener's rank evaluation, the Fine-tune page's
# plan and "Retrain settings", the Evaluate page (the walk-forward's plan), the Risk panel and the sidebar (the
# sampling knobs) draw (``knob_widgets``; a later class's label wins a setting two share)
CONTROLS = {**{knob.name(name): knob.label for cls in (RankPlan, FineTunePlan, TrustPlan, RetrainSettings, RiskSettings,
                                                       None) for name, (_, knob) in knobs(cls).items()},
    "horizon": "Horizon (bars)", "model": "Model", "calendar": "Calendar", "timezone": "Timezone",
    "symbol": "Instrument", "exchange": "Exchange", "fix": "Accept fix",
    "cutoff": "Cut-off (last bar the models see)",  # the Compare page's backtest (desk.compare)
    "covariates": knobs(CovariateOptions)["covariates"][1].label,  # the sidebar's "Condition on" (conditioned.py)
    "leaders": "Leaders",  # an adapter's leader series (adapters.leader_input)
}
# Actions a fix asks for, where the app shows the registry and the ledger.
ACTIONS = {"adapters": "the lineage on the *Fine-tune* page", "score": "the *Track record* page, which scores as bars "
           "arrive", "rollback": "an admin's rollback (the *Fine-tune* page shows the lineage)"}


def control(setting: str, value: object = None) -> str:
    """A setting as the app names it: '*Lookback (bars)*', '*Calendar* XNYS' (a switch: its label alone)."""
    if setting in ACTIONS:
        return ACTIONS[setting]
    label = CONTROLS.get(setting)
    if label is None:  # no control sets it here: the setting's own name rather than a made-up one
        return plain_name(setting, value)
    return f"*{label}*" if value is None or isinstance(value, bool) else f"*{label}* {value}"


def app_message(e: BaseException) -> str:
    """An exception as the app says it in one line: a refusal in the studio's words, a library error's fixes naming
    controls; anything else with its type (a bug, still not a traceback)."""
    return first_line(in_studio_words(e), control) if refusal(e) else with_type(e).splitlines()[0]


def app_notice(notice) -> str:
    """A ``kronos.errors.Notice`` as the app says it, its fixes naming controls."""
    return notice.worded(control)
