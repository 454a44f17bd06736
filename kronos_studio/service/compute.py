"""From a request to numbers: bars read through the same reader and quality gate as ``kronos forecast``,
the forecast made by ``make_forecast`` on a warm model, the walk-forward report ``kronos evaluate``
writes, and a cache in which identical requests are computed once (concurrent ones share the one
computation in flight)."""
from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future

from kronos.settings import ForecastSettings

from .errors import ServiceError, notice_line, refused
from .limits import Limits

SOURCE_BARS = 2000  # bars fetched for a symbol: more than any model's context, and a walk-forward's cut-offs
CACHE_ENTRIES = 256  # results kept for identical requests (a forecast of 30 paths x 20 steps is ~30 kB)
NOT_PER_SERIES = "not chosen per series"  # what ``served_champion`` answers for a model other than ``champion``


def catalog_model(ref: str | None, models_dirs=()) -> str | None:
    """``ref`` as the catalog names it (``catalog.resolve.offered``): a request names a model of the catalog
    and nothing else (no folder or Hub id of its own choosing); anything else is one 404 whose words are the
    same whether or not such a path exists."""
    from kronos_studio.catalog.resolve import UnknownModel, offered

    try:
        return offered(ref, models_dirs)
    except UnknownModel as e:
        raise refused(404, e) from None


def read_request_bars(request, limits: Limits, needed: int = SOURCE_BARS):
    """(gated bars, note and warning lines) of a request with ``bars_csv`` or ``source`` + ``symbol`` +
    ``interval`` (fields of ``schemas.BarsInput``)."""
    return gated_bars(limits, bars_csv=request.bars_csv, source=request.source, symbol=request.symbol,
                      interval=request.interval, exchange=request.exchange, timezone=request.timezone,
                      calendar=request.calendar, fix=request.fix, needed=needed)


def gated_bars(limits: Limits, *, bars_csv: str | None = None, file=None, source: str | None = None,
               symbol: str | None = None, interval: str | None = None, exchange: str | None = None,
               timezone: str | None = None, calendar: str | None = None, fix=(), needed: int = SOURCE_BARS,
               ways: str = "bars_csv (CSV text) or source + symbol + interval"):
    """(gated bars, note and warning lines) from exactly one of: CSV text, a file (a path the caller
    has allowed), a source's symbol; read and gated as ``kronos forecast`` reads and gates a file.
    ``ways``: how the caller's users give bars, for the message when they give none or two."""
    from kronos_studio.bars_input import quality_gate, read_bars

    if sum(x is not None for x in (bars_csv, file, source)) != 1:
        raise ServiceError(422, f"give the bars either as {ways}")
    if bars_csv is not None:
        import dataclasses

        limits.check_csv_lines(bars_csv)  # before parsing: a text of too many lines is refused in one pass
        name = f"{symbol or 'bars'}.csv"  # the series' name, as a file's name names it on the command line
        bars = read_bars(bars_csv.encode(), name, timezone=timezone, calendar=calendar, symbol=symbol)
        # CSV text comes with no file name: its series is the symbol it is given (or its own symbol column's),
        # never one made up from the name above
        bars = dataclasses.replace(bars, file_stem=None)
    elif file is not None:
        bars = read_bars(file, timezone=timezone, calendar=calendar, symbol=symbol)
    else:
        from data_sources import load_bars

        if not symbol or not interval:
            raise ServiceError(422, f"source '{source}' needs a symbol and an interval (e.g. 1d)")
        bars = load_bars(source, symbol, interval, lookback=needed, exchange=exchange)
    limits.check_bars(len(bars.frame))
    bars, notices = quality_gate(bars, list(fix))
    return bars, [notice_line(n) for n in notices]


def request_key(kind: str, bars, model: str | None, settings: ForecastSettings, workspace: str | None = None,
                **extra) -> str:
    """What makes two requests identical: the bars' content and series, the model, every setting, and the
    workspace's fits of the ensemble to a series (a new fit changes that series' ensemble forecasts) and the
    Chronos-2 the ensemble would mix in (weights downloaded since change it)."""
    import dataclasses

    from kronos_studio.ensemble.chronos2 import ensemble_state
    from kronos_studio.ensemble.series import series_fits

    what = {"kind": kind, "data": bars.content_hash(), "series": [bars.source, bars.series_symbol, bars.interval,
                                                                  bars.calendar],
            "model": model, "settings": dataclasses.asdict(settings), "workspace": workspace,
            "fits": series_fits(workspace), "chronos2": ensemble_state(), **extra}
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


def served_champion(model: str | None, bars, ledger):
    """For the model ``champion``: the series' champion in ``ledger`` (the service's, scoped to the
    request's workspace) now, None when its base model serves; read once per request, so that the cache
    key and the forecast name the same adapter (a promote or a rollback is never answered from the cache
    with the one before). Any other model: ``NOT_PER_SERIES``."""
    from kronos_studio.bundled import model_reference
    from kronos_studio.catalog.champion import CHAMPION, champion_entry

    return champion_entry(bars, ledger=ledger) if model_reference(model) == CHAMPION else NOT_PER_SERIES


def served_key(champion) -> dict:
    """What a request's key adds for ``served_champion``'s answer: the adapter that serves (None: the base)."""
    return {} if champion is NOT_PER_SERIES else {"champion_adapter": None if champion is None else champion.id}


class OnceCache:
    """Results by key, computed once: a request whose key is being computed waits for that computation
    instead of starting its own. Failures are not kept (the next identical request tries again)."""

    def __init__(self, entries: int = CACHE_ENTRIES):
        self.entries = entries
        self.lock = threading.Lock()
        self.results: OrderedDict[str, Future] = OrderedDict()
        self.computed = 0  # computations run (the rest were answered from the cache or in-flight ones)

    def get(self, key: str, compute: Callable[[], object]):
        with self.lock:
            future = self.results.get(key)
            if future is not None:
                self.results.move_to_end(key)
                mine = False
            else:
                future = self.results[key] = Future()
                mine = True
                while len(self.results) > self.entries:
                    self.results.popitem(last=False)
        if not mine:
            return future.result()
        try:
            value = compute()
        except BaseException as e:
            with self.lock:
                self.results.pop(key, None)
            future.set_exception(e)
            raise
        with self.lock:
            self.computed += 1
        future.set_result(value)
        return value


def forecaster_of(registry, model: str | None, bars, settings: ForecastSettings, workspace: str | None,
                  champion=NOT_PER_SERIES):
    """The warm forecaster of ``model``: for ``champion``, the one ``served_champion`` read serves."""
    if champion is NOT_PER_SERIES:
        return registry.forecaster(model, bars, settings, workspace)
    return registry.champion(bars, champion)


def make_forecast(registry, model: str | None, bars, settings: ForecastSettings, workspace: str | None = None,
                  champion=NOT_PER_SERIES):
    """``kronos_studio.forecasters.make_forecast`` of ``bars`` by the warm ``model``: what ``kronos
    forecast`` makes of the same bars, model and settings (``workspace``: whose ensemble fits apply;
    ``champion``: ``served_champion``'s answer)."""
    from kronos_studio.forecasters import make_forecast as make

    forecaster = forecaster_of(registry, model, bars, settings, workspace, champion)
    with registry.sampling(model, workspace):
        return make(forecaster, bars, settings)


def evaluation(registry, model: str | None, bars, settings: ForecastSettings, cutoffs: int,
               include_training_period: bool, workspace: str | None = None, champion=NOT_PER_SERIES):
    """The ``kronos evaluate`` report (``evaluation.report.EvaluationReport``) on a warm model."""
    from kronos_studio.evaluation.report import evaluation_report

    forecaster = forecaster_of(registry, model, bars, settings, workspace, champion)
    # sampled run by run in the workspace's turns: other workspaces' forecasts go in between, not after it;
    # a TrainingPeriodError is a 422 naming the field that includes them
    return evaluation_report(registry.in_turn(forecaster, model, workspace), bars, settings, cutoffs=cutoffs,
                             include_training_period=include_training_period)


def forecast_answer(registry, cache: OnceCache, model: str | None, bars, lines: list[str], settings: ForecastSettings,
                    levels: list[float], *, workspace: str, ledger, record: bool = True,
                    return_paths: bool = False) -> dict:
    """What the service and the MCP server answer to a forecast request: ``forecast_body`` of the forecast
    (computed once per identical request, with ``workspace``'s ensemble fits and, for ``champion``, its
    champions in ``ledger``, the workspace's), recorded in ``ledger`` when ``record``, after these bars scored
    its earlier forecasts of the series, as ``kronos forecast`` does; ``warnings``: ``lines`` (from reading
    the bars), then too few paths and an implausible fan."""
    from kronos_studio.evaluation.plausibility import check_fan
    from kronos_studio.forecasting import too_few_paths

    champion = served_champion(model, bars, ledger)
    key = request_key("forecast", bars, model, settings, workspace, **served_key(champion))
    fc = cache.get(key, lambda: make_forecast(registry, model, bars, settings, workspace, champion))
    out = forecast_body(fc, levels, return_paths)
    few = too_few_paths(fc.paths.shape[0])
    lines = lines + ([f"kronos: warning: too_few_paths: {few} (paths)"] if few else [])
    lines += [f"kronos: warning: {p.code}: {p.message}" for p in check_fan(fc.paths, bars.frame["close"].to_numpy())]
    out["warnings"] = lines
    check_answerable(fc.paths, out["provenance"])  # before the ledger keeps it: a request not answered leaves no row
    if record:
        ledger.score(bars)
        done = ledger.record(fc, bars)
        out["ledger"] = {"id": done.id, "new": done.new, "workspace": workspace}
    return out


def check_answerable(paths, provenance: dict) -> None:
    """Refuse a forecast JSON cannot carry (a non-finite number; its quantiles come from the paths): an error
    before anything is recorded, never a failure after."""
    import numpy as np

    try:
        json.dumps(provenance, allow_nan=False)
        finite = bool(np.isfinite(paths).all())
    except ValueError:
        finite = False
    if not finite:
        raise ServiceError(422, "the forecast holds non-finite numbers (an overflow of these bars' prices or "
                                "settings), so it cannot be answered: check the bars' scale and the settings")


def evaluate_answer(registry, cache: OnceCache, model: str | None, bars, lines: list[str], settings: ForecastSettings,
                    cutoffs: int, include_training_period: bool, *, workspace: str, ledger) -> dict:
    """What the service and the MCP server answer to an evaluate request: the ``kronos evaluate`` JSON
    (computed once per identical request, with ``workspace``'s ensemble fits and, for ``champion``, its
    champions in ``ledger``, the workspace's) and its warnings after ``lines``."""
    champion = served_champion(model, bars, ledger)
    key = request_key("evaluate", bars, model, settings, workspace, cutoffs=cutoffs, include=include_training_period,
                      **served_key(champion))
    made = cache.get(key, lambda: evaluation(registry, model, bars, settings, cutoffs, include_training_period,
                                             workspace, champion))
    from kronos_studio.redact import without_paths

    return {**without_paths(made.out), "warnings": lines + [notice_line(n) for n in made.warnings]}


def evaluation_bars(cutoffs: int, settings: ForecastSettings) -> int:
    """Bars to fetch from a source for a walk-forward over ``cutoffs`` cut-offs."""
    return SOURCE_BARS + cutoffs * settings.horizon


def forecast_body(fc, levels, return_paths: bool) -> dict:
    """The response of a forecast: per-step quantiles of every field (``Forecast.quantiles``, the table
    ``kronos forecast`` writes), the provenance (models named by their names and hashes, never by a server
    path: ``redact.without_paths``), and the paths when asked for."""
    from kronos_studio.redact import without_paths

    table = fc.quantiles(levels)
    columns = list(table.columns)
    values = table.to_numpy()
    rows = [{"timestamp": ts.isoformat(), **{c: float(v) for c, v in zip(columns, row)}}
            for ts, row in zip(table.index, values)]
    body = {"quantiles": rows, "provenance": without_paths(json.loads(json.dumps(fc.provenance, default=str)))}
    if return_paths:
        body["paths"] = {"columns": list(fc.columns), "timestamps": [ts.isoformat() for ts in fc.timestamps],
                         "values": fc.paths.tolist()}  # [paths][horizon][columns], float32 as float
    return body


def check_quantile_levels(levels, limits: Limits, horizon: int) -> list[float]:
    """The quantile levels of a forecast request: each strictly between 0 and 1, no more than the limits let
    an answer hold (413)."""
    limits.check_quantiles(len(levels), horizon)
    if not levels or any(not 0 < q < 1 for q in levels):
        raise ServiceError(422, f"quantiles must lie strictly between 0 and 1, got {list(levels)}")
    return [float(q) for q in levels]
