"""Kronos conditioned on other series: covariates as the leader channels of the event encoder
(``kronos_studio.events``: ``leader_<name>``, each bar's log return of the leader over the bar), for a Kronos with
an event adapter (``KronosPipeline``'s ``events``; a model without an event encoder is refused).

The channels are built by ``events.event_matrix`` as the adapter was trained on them, with two changes of what a
leader bar is: it completes when ``alignment.bar_ends`` says (an index's daily bar at its session close, not at
midnight), and nothing that completes after the forecast's cut-off (the close of the target's last history bar) is
handed over at all. The same refusals as for any covariate apply first (``alignment.align``: the target itself, no
overlap, one that stopped before the cut-off, a coarser interval).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from data_sources.intervals import parse_interval
from data_sources.schema import Bars
from kronos.errors import Fix, InputError
from kronos.lazy import np, pd
from kronos_studio.events import LEADERS, EventBuilder, EventCalendar, Leader, bundled_calendar
from kronos_studio.forecasters.kronos import KronosForecaster

from .alignment import align, bar_ends, ends_of, fx_dated_by_open


def leader(bars: Bars) -> Leader:
    """One leader for the event matrix: the bars' closes at the times they completed (``bar_ends``)."""
    ends = bar_ends(bars).asi8
    close = bars.frame["close"].to_numpy(np.float64)
    ok = np.isfinite(close) & (close > 0)
    order = np.argsort(ends[ok], kind="stable")
    return Leader(ends[ok][order], close[ok][order], int(parse_interval(bars.interval).value))


@dataclass
class CovariateEvents:
    """The ``events`` callable of a Kronos forecast that reads covariates as leaders: (history timestamps, future
    timestamps) -> [history + horizon, 20]. ``leaders``: LEADERS name -> Leader; ``interval`` and
    ``target_calendar``: the target's (when its bars close)."""

    leaders: Mapping[str, Leader]
    interval: str
    target_calendar: str | None = None
    calendar: EventCalendar | None = None
    fx_by_open: bool = False  # the target's FX daily bars are dated by their Sunday open
    names: dict[str, str] = field(default_factory=dict)  # leader channel -> the covariate's symbol

    def __call__(self, history, future) -> np.ndarray:
        h = pd.DatetimeIndex(history)
        cutoff = ends_of(h[-1:], self.interval, self.target_calendar, self.fx_by_open)[-1].value
        known = {k: Leader(v.completed[v.completed <= cutoff], v.close[v.completed <= cutoff], v.step)
                 for k, v in self.leaders.items()}
        return EventBuilder(self.calendar, known, interval=parse_interval(self.interval))(history, future)


def covariate_events(target: Bars, leaders: Mapping[str, Bars], *, calendar: EventCalendar | None = None,
                     with_calendar: bool = True) -> CovariateEvents:
    """Event inputs that read ``leaders`` (LEADERS name -> the covariate's bars: ``index``, ``rates``, ``dollar``,
    ``crypto``) for forecasts of ``target``, with the event ``calendar`` (the bundled US macro calendar when None
    and ``with_calendar``). Refusals as ``alignment.align`` and for a name that is no leader channel."""
    unknown = sorted(set(leaders) - set(LEADERS))
    if unknown:
        raise InputError(f"{unknown[0]!r} is not a leader channel of the event encoder", {"leaders": sorted(leaders)},
                         Fix(f"name each covariate as one of {', '.join(LEADERS)}"))
    align(target, list(leaders.values()))  # the covariate refusals, before any forecast
    if calendar is None and with_calendar:
        calendar = bundled_calendar()
    return CovariateEvents({k: leader(v) for k, v in leaders.items()}, target.interval, target.calendar, calendar,
                           fx_dated_by_open(target.timestamps), {k: v.series_symbol for k, v in leaders.items()})


def kronos_with_covariates(pipeline, target: Bars, leaders: Mapping[str, Bars], **options):
    """A ``KronosForecaster`` of ``pipeline`` (a Kronos with an event adapter) reading ``leaders`` as its leader
    channels (``covariate_events``); refused when the model has no event encoder."""
    if getattr(pipeline.pair.predictor, "event_emb", None) is None:
        raise InputError(f"{pipeline.pair.name} has no event encoder, so it cannot read covariates as leaders",
                         {"model": pipeline.pair.name},
                         (Fix("load an adapter trained with event inputs ({setting})", "model"),
                          Fix("condition Chronos-2 on them instead")))
    return KronosForecaster(pipeline, events=covariate_events(target, leaders, **options))
