"""The worker of a batch: loads a Kronos model once and forecasts chunks of series with it. The local
engine runs one in-process; the Ray engine runs one per actor."""
from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from datetime import datetime, timezone

from kronos.errors import Fix, InputError, UserError
from kronos.lazy import pd
from kronos.settings import Bounds, ForecastSettings, check_bounds, knob
from kronos_studio.catalog import resolve
from kronos_studio.catalog.champion import champion_entry, champion_forecaster
from kronos_studio.catalog.kinds import kind_of
from kronos_studio.forecasters import make_forecasts
from kronos_studio.forecasters.bounds import notices as forecast_notes
from kronos_studio.risk.measures import RiskSettings

from .summary import DEFAULT_TOUCH_LEVELS, bad_touch_levels, risk_summary, step_quantiles, summarize, utc

# the RiskSettings fields a row's risk columns depend on: what the batch's faces offer (per_step is off for a row;
# the history window and EWMA decay shape readings a row does not report)
RISK_KNOBS = ("levels", "positions", "vol_interval")
MAX_TOUCH_LEVELS = 20  # touch levels of one screen: each is a column of every row
CHUNK_SERIES = 32  # series per predict_batch call: past ~32 a bigger batch buys little and holds more memory


@dataclass(frozen=True)
class BatchSettings:
    """What every series of a batch is forecast with: ``forecast`` (its lookback None: the model's
    default, context - horizon, the same for every series, so that rows compare like with like), the
    touch levels each row reports and ``risk``: the VaR/ES levels, positions and volatility interval of its risk
    columns (``summary.risk_summary``; a row reads the horizon only, so ``per_step`` is always off here)."""

    forecast: ForecastSettings
    touch_levels: tuple[float, ...] = knob(DEFAULT_TOUCH_LEVELS, Bounds(gt=-1, lt=10, max_items=MAX_TOUCH_LEVELS,
                                                                        unique=True, what="touch levels"),
                                           label="Touch levels", help="returns whose touch probability each row "
                                                                      "reports, e.g. -0.1 and 0.05")
    risk: RiskSettings = RiskSettings(per_step=False)

    def __post_init__(self):
        if self.risk.per_step:  # a row has no per-step columns: the same settings (and rerun key) either way
            object.__setattr__(self, "risk", dataclasses.replace(self.risk, per_step=False))
        object.__setattr__(self, "touch_levels", tuple(float(v) for v in self.touch_levels))
        check_bounds(self)
        bad = bad_touch_levels(self.touch_levels)
        if bad:
            raise InputError(f"touch levels are returns like -0.1 or 0.05 (not 0, above -1), got {bad}",
                             {"touch_levels": list(bad)}, Fix("leave out or change those in {setting}", "touch_levels"))

    def forecast_settings(self, forecaster) -> ForecastSettings:
        """The settings every series is forecast with by ``forecaster`` (its default lookback made explicit)."""
        lookback = self.forecast.lookback or forecaster.lookback(self.forecast.horizon)
        return dataclasses.replace(self.forecast, lookback=lookback)


@dataclass
class SeriesJob:
    """One series ready to forecast: its row name, where its bars came from, the bars and their hash."""

    series: str
    origin: str
    bars: object  # data_sources.Bars
    data_sha256: str
    warnings: str = ""


@dataclass
class SeriesResult:
    row: dict
    steps: pd.DataFrame | None = None
    forecast: object = None  # the forecast itself, when the batch hands its forecasts on (``BatchRun.each_forecast``)


class ChunkForecaster:
    """A model loaded once (``model``: a reference ``kronos_studio.catalog.resolve`` takes, None for
    the bundled default) that forecasts lists of ``SeriesJob``, one batched run per list where it can.
    ``champion`` is resolved per series in ``workspace``'s registry (None: the default workspace) in the
    ledger at ``ledger_url`` (None: the default ledger): each series is forecast by its champion adapter,
    with the lookback it was trained with, or by the base model; series served by the same model share one
    forecaster and one batched run. ``registry``: the process's warm ``catalog.registry.ModelRegistry``, whose
    pairs it forecasts with, each run in ``workspace``'s turn (None: its own pairs, loaded here on ``device``,
    as a Ray actor loads them). ``replay`` (an attribute the engine sets): the replay whose champions ``champion``
    serves (``kronos watch --replay-from``; the live ones by default)."""

    replay = ""

    def __init__(self, model: str | None, settings: BatchSettings, device=None,
                 workspace: str | None = None, ledger_url: str | None = None, registry=None):
        # CPU threads: each forecast takes its share (kronos.threads: on a Ray actor, its num_cpus)
        self.model, self.registry = model, registry
        self.per_series = kind_of(model).per_series
        # the base model when per series: what sets the history loaded and the rerun key
        self.forecaster = self.base_forecaster(device)
        self.settings = settings
        self.forecast_settings = settings.forecast_settings(self.forecaster)
        self.provenance = self._provenance(self.forecaster)
        self.device, self.workspace, self.ledger_url, self.ledger = device, workspace, ledger_url, None
        self.served = {None: self.forecaster}  # per series: Kronos forecasters by adapter id (None: the base)
        self.pairs: dict[str, object] = {}  # Kronos pairs by reference: a champion's base, loaded once
        if self.per_series:
            from kronos_studio.bundled import default_model_path

            self.pairs[str(default_model_path())] = self.forecaster.pair

    def base_forecaster(self, device):
        """The forecaster of ``self.model`` on ``device`` (the base model when chosen per series)."""
        return resolve(None if self.per_series else self.model, device=device,
                       load_pair=None if self.registry is None else self.registry.loader(self.model))

    @staticmethod
    def _provenance(forecaster) -> dict:
        # a model without weights (a statistical one) is named as a request names it: its key
        return {"model": forecaster.key, "predictor_revision": None, "tokenizer_revision": None, "device": "cpu",
                **forecaster.describe()}

    def identity(self) -> dict:
        """The model as loaded here: the Ray engine checks every actor loaded the same one."""
        return self.provenance

    def champion_entry(self, bars):
        """The registry's champion of ``bars``' series (None: the base model serves, or the model is not
        chosen per series)."""
        if not self.per_series:
            return None
        if self.ledger is None:
            from kronos_studio.ledger import Ledger

            self.ledger = Ledger.open(self.ledger_url, workspace=self.workspace, replay=self.replay)
        return champion_entry(bars, ledger=self.ledger)

    def close(self) -> None:
        if self.ledger is not None:
            self.ledger.close()
            self.ledger = None

    def forecast(self, jobs: list[SeriesJob]) -> list[SeriesResult]:
        """A result per job, in order: per series, one batched run per model that serves some of them."""
        return [dataclasses.replace(r, forecast=None) for r in self.forecast_kept(jobs)]

    def forecast_kept(self, jobs: list[SeriesJob]) -> list[SeriesResult]:
        """``forecast``'s results, each with its forecast (a watch records them; from a Ray actor they travel back)."""
        if not self.per_series:
            return self._forecast(self.forecaster, jobs)
        from kronos_studio.forecasting import studio_pipeline

        results: dict[int, SeriesResult] = {}
        groups: dict[int | None, list[tuple[int, SeriesJob, object]]] = {}
        for i, job in enumerate(jobs):
            try:
                champion = champion_forecaster(job.bars, self.champion_entry(job.bars), self._pair, studio_pipeline,
                                               self.served)
            except (UserError, ValueError, RuntimeError) as e:  # this series' champion cannot serve: its row says why
                results[i] = SeriesResult(failure_row(job.series, job.origin, f"forecast failed: {e}"))
                continue
            groups.setdefault(champion.adapter_id, []).append((i, job, champion))
        for members in groups.values():
            champion = members[0][2]
            done = self._forecast(champion, [job for _, job, _ in members])
            for (i, _, own), result in zip(members, done):
                if result.steps is not None:  # each series' own note (the base is named for its series)
                    result.row.update(champion=own.note, adapter_id=own.adapter_id)
                results[i] = result
        return [results[i] for i in range(len(jobs))]

    def _pair(self, ref: str):
        if ref not in self.pairs:
            if self.registry is not None:
                self.pairs[ref] = self.registry.pair(ref)
            else:
                from kronos.checkpoints import load_pair

                self.pairs[ref] = load_pair(ref, device=self.device)
        return self.pairs[ref]

    def _turn(self):
        """Held while sampling: the registry's turn of the model (its pairs serve other callers too)."""
        if self.registry is None:
            return contextlib.nullcontext()
        return self.registry.sampling(self.model, self.workspace)

    def _forecast(self, forecaster, jobs: list[SeriesJob]) -> list[SeriesResult]:
        """A result per job by ``forecaster``, in order. If the batch fails, each series is retried alone, so
        a series the model refuses fails only its own row."""
        settings = self.settings.forecast_settings(forecaster) if self.per_series else self.forecast_settings
        try:
            with self._turn():
                forecasts = make_forecasts(forecaster, [j.bars for j in jobs], settings)
        except (InputError, ValueError, RuntimeError) as e:
            if len(jobs) == 1:
                return [SeriesResult(failure_row(jobs[0].series, jobs[0].origin, f"forecast failed: {e}"))]
            return [r for j in jobs for r in self._forecast(forecaster, [j])]
        model = self._provenance(forecaster) if self.per_series else self.provenance
        return [self._result(j, fc, settings, model) for j, fc in zip(jobs, forecasts)]

    def forecast_run(self, run: tuple[list, ForecastSettings]) -> list:
        """The forecasts of one run, (bars list, settings), in one batched call: a ranking's cut-off date
        (``kronos_studio.batch.cross_section``), its errors raised as they are."""
        bars_list, settings = run
        with self._turn():
            return make_forecasts(self.forecaster, bars_list, settings)

    def _result(self, job: SeriesJob, fc, settings: ForecastSettings, model: dict) -> SeriesResult:
        last_close = float(fc.history["close"].iloc[-1])
        bars = job.bars
        try:
            risk = risk_summary(fc, self.settings.risk)
        except InputError as e:  # no return to read risk from (a last close that is no price): the row says so
            risk = {"risk_notes": f"no risk reading: {e}"}
        row = {"series": job.series, "status": "ok",
               **summarize(fc.paths, last_close, self.settings.touch_levels),
               **risk,
               "last_close": last_close, "price_decimals": bars.price_decimals(),
               "history_end": utc([fc.history["timestamp"].iloc[-1]])[0],
               "horizon_end": utc(fc.timestamps[-1:])[0],
               "bars_used": len(fc.history),
               "warnings": job.warnings,
               # the forecast's own: candles repaired, a volume unreliable or not forecast (forecasters.bounds)
               "forecast_notes": "; ".join(n.problem for n in forecast_notes(fc.provenance)),
               "origin": job.origin, "source": bars.source, "symbol": bars.series_symbol, "interval": bars.interval,
               "calendar": bars.calendar, "calendar_inferred": bars.calendar_inferred, "data_sha256": job.data_sha256,
               "model": model["model"], "predictor_revision": model["predictor_revision"],
               "tokenizer_revision": model["tokenizer_revision"], "device": model["device"],
               "threads": fc.provenance["threads"]["threads"],
               "horizon": settings.horizon, "paths": settings.paths, "seed": settings.seed,
               "lookback": settings.lookback,
               "created_at": now_utc()}
        return SeriesResult(row, step_quantiles(job.series, fc.timestamps, fc.paths), fc)


def failure_row(series: str, origin: str, reason: str) -> dict:
    """The row of a series that has no forecast: its name, where it came from and the one-line reason."""
    return {"series": series, "status": " ".join(str(reason).split()), "origin": origin, "created_at": now_utc()}


def now_utc() -> pd.Timestamp:
    return pd.Timestamp(datetime.now(timezone.utc).replace(microsecond=0))
