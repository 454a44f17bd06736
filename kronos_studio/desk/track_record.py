"""The ledger's read views as the desk serves them (``Desk.track_record``, ``Desk.predictions``, ``Desk.steps``):
which forecasts a view reads is one request of knob'd filters (``LedgerQuery``: series, source, interval, models,
replay, since), from which every face draws its options (the command line's flags, the HTTP query parameters, the MCP
tool's arguments); the realized track record pools them per model, the forecasts at non-default sampling
settings left out unless asked for (``ExperimentsOption``).

The ledger's frames (SQLAlchemy, pandas) are imported when a view is read: this module stays light, so the
requests are options and fields before any database is touched."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kronos.errors import Fix, InputError, Notice
from kronos.lazy import pd
from kronos.settings import Bounds, check_bounds, knob

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class SeriesQuery:
    """Which series a view reads (each None: every one): what the ledger and the adapter registry name them by."""

    source: str | None = knob(None, label="Source", help="only this data source's series (yfinance, ccxt, file, "
                                                         "sample)")
    symbol: str | None = knob(None, label="Series", help="only this series, named as the ledger keeps it (its "
                                                         "symbol, with its exchange where known: bitstamp:BTC)")
    interval: str | None = knob(None, label="Interval", help="only this bar interval (1d, 1h, ...)")

    def series(self) -> dict:
        """The ledger's filters of the series asked for (the None ones left out)."""
        return {name: getattr(self, name) for name in ("source", "symbol", "interval")
                if getattr(self, name) is not None}


@dataclass(frozen=True)
class ModelsQuery(SeriesQuery):
    """Which series, and which models' forecasts of them, a view reads (drift, the track record)."""

    models: tuple[str, ...] = knob((), Bounds(unique=True, what="models"), label="Models", setting="model",
                                   help="only these models' forecasts, named as the ledger keeps them (repeatable)")
    replay: str | None = knob(None, label="Replay",
                              help="only this replay's forecasts (a watch's replay of past days; the watches list "
                                   "them), '' the live ones (default: the live ones); a replay's are never mixed with "
                                   "the live ones")

    def __post_init__(self):
        object.__setattr__(self, "models", tuple(self.models))  # a face's list, kept as the request's tuple
        check_bounds(self)
        if self.replay is not None:
            check_replay_label(self.replay)

    def filters(self) -> dict:
        """The ``Ledger`` reading filters this query asks for (``kronos_studio.ledger.frames``); no ``replay``: the
        ledger's own label (the live rows, unless it was opened ``replaying`` one)."""
        return {**self.series(), **({"models": list(self.models)} if self.models else {}),
                **({"replay": self.replay} if self.replay is not None else {})}

    def reading(self, ledger):
        """``ledger`` seen with the replay label this query reads (its own when none is asked): the views that
        take no filters (the series it holds, drift's workspaces) read that label's rows too."""
        return ledger if self.replay is None else ledger.replaying(self.replay)


def check_replay_label(replay: str) -> None:
    """Refuse what names no one replay: the ledger's word for every label (a view would mix a replay's rows with the
    live ones) or a label longer than the ledger keeps."""
    from kronos_studio.ledger.schema import EVERY_REPLAY, REPLAY_CHARS  # the database layer: read when asked

    if not isinstance(replay, str) or replay == EVERY_REPLAY or len(replay) > REPLAY_CHARS:
        shown = f"{len(replay)} characters" if isinstance(replay, str) and len(replay) > REPLAY_CHARS else repr(replay)
        raise InputError(f"replay must name one replay (a label of at most {REPLAY_CHARS} characters, not "
                         f"'{EVERY_REPLAY}'), got {shown}", {"replay": shown},
                         Fix("give {setting} as a replay's label (the watches list them), '' for the live "
                             "forecasts, or leave it out", "replay"))


def replay_said(request: ModelsQuery, ledger) -> list[Notice]:
    """What a view of the rows ``request`` reads says first: that a replay's ticks forecast bars inside the base
    model's training period (``kronos_studio.ledger.store.replay_notices``)."""
    from kronos_studio.ledger.store import replay_notices

    return replay_notices(request.replay if request.replay is not None else getattr(ledger, "replay", ""))


@dataclass(frozen=True)
class LedgerQuery(ModelsQuery):
    """Which of a ledger's forecasts a view reads: the series, the models that made them, since when."""

    since: str | None = knob(None, label="Since", help="only forecasts made on or after this date or time (UTC), "
                                                       "e.g. 2024-06-01")

    def __post_init__(self):
        super().__post_init__()
        self.when()  # a date that is none refused now, before any database is read

    def when(self):
        """``since`` as a time (None: not filtered); an ``InputError`` for text that is no date."""
        if self.since is None:
            return None

        try:
            when = pd.Timestamp(self.since)
        except (ValueError, TypeError):
            when = pd.NaT
        if pd.isna(when):  # '' reads as NaT: no time at all
            raise InputError(f"since must be a date or time, got '{self.since}'", {"since": self.since},
                             Fix("give {setting} as a date or time like 2024-06-01", "since"))
        return when

    def filters(self) -> dict:
        return {**super().filters(), **({"since": self.when()} if self.since is not None else {})}


@dataclass(frozen=True)
class ExperimentsOption:
    """Of a view that pools forecasts into a summary (the track record, drift): those sampled at other settings than
    the defaults are experiments, left out (and counted) unless asked for."""

    include_experiments: bool = knob(False, label="Include experiments",
                                     help="also pool the forecasts sampled at non-default settings (temperature, "
                                          "top-p, top-k, clip, anchor, precision); left out and counted otherwise")


@dataclass(frozen=True)
class TrackRecordRequest(ExperimentsOption, LedgerQuery):
    """The realized track record of the forecasts a query reads."""

    member_rows: bool = knob(True, label="Ensemble members' rows",
                             help="also each ensemble member's own forecast rows (model ensemble/<member>) beside the "
                                  "ensemble's; off, the forecasts as made, the members summarised under them")


@dataclass
class TrackRecord:
    """What the ledger knows of the forecasts a ``TrackRecordRequest`` reads, once their bars arrived.

    ``predictions``: one row per forecast, newest first, with its realized scores so far; ``offered``: the models of
    the forecasts of the asked series, before the models and experiments are chosen (a face offering the choice);
    ``models``: each model's realized
    record pooled over its scored bars (coverage, CRPS in % of price, direction hits); ``pooled``: every model
    asked together; ``members``: each ensemble member's own record under the scored ensemble forecasts;
    ``series``: every series the ledger (the workspace) holds; ``experiments_left_out``: forecasts at non-default
    settings not pooled."""

    predictions: pd.DataFrame
    models: pd.DataFrame
    pooled: pd.DataFrame
    members: pd.DataFrame
    series: pd.DataFrame
    offered: list[str]
    experiments_left_out: int = 0
    notices: list[Notice] = field(default_factory=list)


def track_record(desk, request: TrackRecordRequest, *, ledger) -> TrackRecord:
    """The realized track record of ``ledger``'s (the caller's workspace's) forecasts ``request`` reads."""
    from kronos_studio.ledger.frames import default_settings_only, realized_by_model

    asked = request.filters()
    chosen = asked.pop("models", None)
    table = ledger.predictions_frame(**asked, member_rows=request.member_rows)  # of asked["replay"], when named
    offered = sorted(table["model"].unique())
    if chosen is not None:
        table = table[table["model"].isin(chosen)]
    left_out = 0
    if not request.include_experiments:
        table, left_out = default_settings_only(table)
    scored = table[table["scored_steps"] > 0]
    return TrackRecord(table, realized_by_model(table), realized_by_model(scored.assign(model="all")),
                       ledger.realized_members(scored["prediction_id"].tolist()), request.reading(ledger).series_frame(),
                       offered, left_out, replay_said(request, ledger))


@dataclass(frozen=True)
class StepsRequest(LedgerQuery):
    """The (forecast, step) rows of the forecasts a query reads: what was forecast and, once scored, what happened
    (the ledger's export). ``forecasts``: only these (the ledger's ids of a table a face shows; None: every one).
    Unlike the other views, every replay's rows unless one is named, each with its label (the column ``replay``)."""

    replay: str | None = knob(None, label="Replay",
                              help="only this replay's rows (a watch's replay of past days; the watches list them), "
                                   "'' the live ones (default: every row, each with its replay label in the column "
                                   "replay, empty for a live row)")

    scored_only: bool = knob(False, label="Scored steps only", help="only the steps whose bars have arrived and been "
                                                                    "scored")
    forecasts: tuple[int, ...] | None = None


@dataclass
class Steps:
    """One row per (forecast, step): ``prediction_id, symbol, model, created_at, step, timestamp, close_p10, ...,
    actual_close, crps, covered, pit, ...``; ``forecasts``: how many forecasts they are of, ``scored``: the steps
    scored."""

    steps: pd.DataFrame
    forecasts: int
    scored: int
    notices: list[Notice] = field(default_factory=list)


def steps(desk, request: StepsRequest, *, ledger) -> Steps:
    """The (forecast, step) rows of ``ledger``'s forecasts ``request`` reads."""
    from kronos_studio.ledger.schema import EVERY_REPLAY

    asked = {"replay": EVERY_REPLAY, **request.filters()}  # every replay's rows, each labelled, unless one is named
    if request.forecasts is not None:
        asked["ids"] = list(request.forecasts)
    table = ledger.steps_frame(scored_only=request.scored_only, **asked)
    return Steps(table, int(table["prediction_id"].nunique()) if len(table) else 0,
                 int(table["crps"].notna().sum()) if len(table) else 0, replay_said(request, ledger))


@dataclass
class Predictions:
    """One row per forecast a query reads, newest first, with its realized scores so far."""

    predictions: pd.DataFrame
    notices: list[Notice] = field(default_factory=list)


def predictions(desk, request: LedgerQuery, *, ledger) -> Predictions:
    """``ledger``'s forecasts ``request`` reads (``kronos_studio.ledger.frames.predictions_frame``)."""
    return Predictions(ledger.predictions_frame(**request.filters()), replay_said(request, ledger))
