"""What a forecast reads and where it lands, decided once for every path a forecast takes (a forecast,
``kronos batch``, the walk-forward, the ensemble's members): ``history_window`` (the lookback from the
settings or the forecaster's default, refused when the history is too short) and ``future_times`` (the
bars' trading calendar)."""
from __future__ import annotations

from kronos.bars import InputError, bars_frame
from kronos.errors import Fix
from kronos.lazy import pd
from kronos.settings import ForecastSettings


def history_window(forecaster, bars, settings: ForecastSettings) -> pd.DataFrame:
    """The bars ``forecaster`` reads of ``bars`` (a ``data_sources.Bars`` or a bars frame): the last
    ``settings.lookback`` (None: ``forecaster.lookback(horizon)``, or all there are when fewer). Raises
    ``InputError``, naming the numbers and the fix, for a history or a lookback shorter than the forecaster's
    ``min_history`` and for a lookback longer than the history."""
    frame = bars_frame(bars)
    check_history(forecaster, len(frame), settings.lookback)
    if settings.lookback and len(frame) < settings.lookback:
        raise InputError(f"lookback is {settings.lookback} bars but only {len(frame)} are available",
                         {"lookback": settings.lookback, "bars": len(frame)},
                         Fix("lower the lookback ({setting}) or load more history", "lookback"))
    return frame.iloc[-(settings.lookback or forecaster.lookback(settings.horizon)):].reset_index(drop=True)


def lookback_note(forecaster, settings: ForecastSettings, read: int) -> str:
    """Why a forecast with ``settings`` read ``read`` bars, in words ('' when its lookback was asked for):
    the forecaster's default and the reason for it ('context 128 - horizon 30', a champion's gate lookback), or
    all the bars there were when fewer."""
    if settings.lookback:
        return ""
    default = forecaster.lookback(settings.horizon)
    if read < default:
        return f"all {read} bars there are; it reads {default} when it has them ({forecaster.lookback_reason(settings.horizon)})"
    return f"default: {forecaster.lookback_reason(settings.horizon)}"


def check_history(forecaster, bars: int, lookback: int | None = None) -> None:
    """Refuses (``InputError``) ``bars`` bars of history, or a ``lookback`` that cuts them, shorter than the
    ``min_history`` the forecaster needs, with both numbers and the fix."""
    need = forecaster.min_history
    if bars < need:
        raise InputError(f"the history has {bars} bars but {forecaster.name} needs at least {need} to estimate "
                         f"the series' scale from: load at least {need} bars (an earlier start, or a shorter "
                         "interval)")
    if lookback is not None and lookback < need:
        raise InputError(f"lookback is {lookback} bars but {forecaster.name} needs at least {need} to estimate "
                         "the series' scale from", {"lookback": lookback, "needed": need},
                         Fix(f"raise the lookback to {need} or more ({{setting}})", "lookback"))


def future_times(bars, history: pd.DataFrame, horizon: int, future=None) -> pd.DatetimeIndex:
    """The ``horizon`` bar times after ``history``: ``future`` when given (checked for its length), else
    the bars' trading calendar (``kronos_studio.forecasting.calendar_future_timestamps``)."""
    from kronos_studio.forecasting import calendar_future_timestamps

    if future is None:
        future = calendar_future_timestamps(bars, pd.DatetimeIndex(history["timestamp"]), horizon)
    future = pd.DatetimeIndex(future)
    if len(future) != horizon:
        raise InputError(f"{len(future)} future bar times were given for a horizon of {horizon}")
    return future
