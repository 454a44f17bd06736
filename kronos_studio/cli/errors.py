"""The command line's words for a library error: each setting a fix names becomes its flag, here and
nowhere else (the library names settings; the app and the HTTP API have their own tables)."""
from __future__ import annotations

from data_sources.errors import in_studio_words
from kronos.errors import first_line, plain_name


def knob_flag(name: str, default) -> str:
    """A sampling knob's option, derived from its name: ``--top-p``; a switch that defaults on turns it off
    (``--no-anchor``), one that defaults off turns it on."""
    return f"--{'no-' if default is True else ''}{name.replace('_', '-')}"


# setting -> its flag, for the settings whose flag is not the one generated from their Knob (``knob_option``) or
# that have no Knob. A switch (a flag taking no value) is written as the value it sets asks for it.
FLAGS = {
    "horizon": "--horizon", "tokenizer": "--tokenizer", "device": "--device", "chronos2": "--chronos2",
    "init": "--init", "files": "--data",  # kronos train tokenizer/predictor (desk.pretrain)
    "meta": "--meta DIR (kronos train ensemble writes one)", "touch_levels": "--touch-levels",
    "include_experiments": "--experiments", "holdout": "--holdout", "min_evaluations": "--min-evaluations",
    "costs_bps": "--costs",  # kronos batch --evaluate's (RankPlan's)
    # the server's own settings (``kronos serve`` / ``kronos mcp``; its limits: ``server_flag``)
    "allow_dir": "--allow-dir", "jobs_dir": "--jobs-dir", "concurrency": "--concurrency",
    "threads": "--threads",  # every computing command's (kronos.threads)
    "covariates": "--with",  # CovariateOptions' knob, generated as this option (common.add_covariate_options)
    "leaders": "--leader",  # kronos forecast --adapter's leader series (desk.adapted)
    "data": "--data", "samples": "--samples",  # kronos train lora's series (desk.fine_tune)
    # actions a fix asks for, which the command line does with a command of its own
    "rollback": "kronos adapters rollback", "score": "kronos ledger score", "adapters": "kronos adapters list",
    "name": "--name", "watches": "kronos watches",  # kronos watch's
}
SWITCHES = {("include_experiments", True): "--experiments"}


def flag(setting: str, value: object = None) -> str:
    """A setting as the command line takes it: '--lookback', '--calendar XNYS', '--no-resume'."""
    if isinstance(value, bool):
        if (setting, value) in SWITCHES:
            return SWITCHES[(setting, value)]
        default = option_knobs().get(setting, (None,))[0]
        switch = knob_flag(setting, default) if isinstance(default, bool) and value is not default else None
        return switch or plain_name(setting, value)
    name = FLAGS.get(setting) or knob_option(setting) or server_flag(setting)
    if name is None:  # a setting the command line has no flag for: plain words rather than a made-up flag
        return plain_name(setting, value)
    return name if value is None else f"{name} {value}"


def option_knobs() -> dict:
    """setting -> (default, Knob) of every option the command line generates from a ``Knob``
    (``common.add_knob_options``): each options class below, its commands' (``desk`` exports it). Read when a message
    names a setting ``FLAGS`` has not: numpy stays out of the start."""
    from data_sources.requests import BarsRequest
    from kronos.settings import ForecastSettings, knobs
    from kronos_studio import desk

    return {knob.name(name): (default, knob)
            for cls in (desk.TrainingData, desk.TrainingOptions, desk.FineTuneRequest, desk.FineTunePlan,
                        desk.RiskBacktestPlan, desk.TrustPlan, desk.RankPlan, desk.ScreenRequest,
                        desk.RetrainWatchlistRequest, desk.Engine, BarsRequest, ForecastSettings, desk.RetrainSettings,
                        desk.CovariateOptions, desk.RiskSettings, desk.StepsRequest, desk.DriftRequest,
                        desk.AdaptersRequest, desk.RetrainPolicy, desk.AlertRules, desk.AlertChannels, desk.Replay,
                        desk.WatchRequest)
            for name, (default, knob) in knobs(cls).items()}


def knob_option(setting: str) -> str | None:
    """The option generated from the ``Knob`` of ``setting``, None when no knob is offered as it."""
    known = option_knobs()
    return knob_flag(setting, known[setting][0]) if setting in known else None


def server_flag(setting: str) -> str | None:
    """A ``kronos serve`` limit's option (``max_bars``: ``--max-bars``), from the desk's limits (their one home)."""
    from kronos_studio.desk import limit_settings  # the desk brings pandas: read when an error is worded

    return f"--{setting.replace('_', '-')}" if setting in limit_settings() else None


def notice_line(notice) -> str:
    """A ``kronos.errors.Notice`` as the command line prints it: 'kronos: warning: ...', fixes as flags."""
    return notice.line(flag)


def cli_line(e: BaseException) -> str:
    """One line for ``kronos: error:``: a refusal in the studio's words, a library error's worded with flags."""
    return first_line(in_studio_words(e), flag)
