"""The trust panel's numbers: a walk-forward of one model on the latest cut-offs of a series, the
naive baselines on the same cut-offs and seeds, skill scores, a direction hit rate with its interval,
the PIT histogram, and a conformal fan calibration with its check on held-out cut-offs."""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kronos.bars import bars_frame
from kronos.errors import Fix, UserError
from kronos.lazy import np, pd
from kronos.quantiles import BAND, QUANTILE_METHOD, band_nominal
from kronos.settings import Bounds, ForecastSettings, bounded, check_bounds, knob
from kronos_studio.forecasters.period import TrainingPeriod

from .baselines import BASELINE_PATHS, REFERENCE, default_baselines
from .calibration import CalibrationCheck, FanCalibration, holdout_check
from .metrics import CRPS_ESTIMATOR
from .training_period import INCLUDE_TRAINING_PERIOD, trained_on
from .walk_forward import EvalResult, WalkForward, last_cutoffs, walk_forward


class TrainingPeriodError(UserError, ValueError):
    """Every cut-off asked for forecasts bars the model has seen: nothing honest is left to score."""


def skill_score(score: float, reference: float) -> float:
    """1 - score / reference for a lower-is-better score: > 0 beats the reference, 0 ties it."""
    return float(1 - score / reference) if reference > 0 else float("nan")


def skill_with_interval(skill: float, interval) -> str:
    """A skill and its interval for the tables the measurement scripts print: '+0.012 (-0.030 to +0.041)'."""
    return f"{skill:+.3f} ({interval[0]:+.3f} to {interval[1]:+.3f})"


def wilson_interval(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion (95% for z = 1.96)."""
    if n <= 0:
        return float("nan"), float("nan")
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def skill_interval(model: np.ndarray, reference: np.ndarray, level: float = 0.95, reps: int = 2000,
                   seed: int = 0) -> tuple[float, float]:
    """Bootstrap interval of 1 - mean(model) / mean(reference) over paired per-cut-off scores
    (cut-offs resampled together, so both models always see the same ones)."""
    model, reference = np.asarray(model, np.float64), np.asarray(reference, np.float64)
    if len(model) < 2:
        return float("nan"), float("nan")
    idx = np.random.default_rng(seed).integers(len(model), size=(reps, len(model)))
    ratio = model[idx].mean(axis=1) / reference[idx].mean(axis=1)
    lo, hi = np.quantile(1 - ratio, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def pit_histogram(pit: np.ndarray, bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """(bin edges, share of PIT values per bin); a calibrated forecast is flat at 1 / bins."""
    counts, edges = np.histogram(np.asarray(pit).ravel(), bins=bins, range=(0, 1))
    return edges, counts / max(1, counts.sum())


def guard_note(guard: dict) -> str | None:
    """The training-period guard's one sentence (``guard``: a report's ``guard`` or its badge numbers), None
    when no cut-off was inside the period: the report's notes, the badge and the CLI all say it this way."""
    n = guard.get("in_training_period")
    if not n:
        return None
    kept = ("included: their scores partly measure memory, not forecasting" if guard.get("in_training_period_included")
            else "left out of every score")
    return f"{n} cut-offs forecast bars inside the model's training period ({guard['training_period']}), {kept}"


STALE_CRPS_NOTE = ("CRPS skill not shown: this evaluation was scored with the path-count-biased CRPS of "
                   "earlier versions; evaluate again for a comparable number")
STALE_BAND_NOTE = ("coverage measured with the band rule of earlier versions, which reads a 30-path band about "
                   "0.05 too low, and no fan calibration applied (it was fitted with that rule); evaluate again")


@dataclass
class TrackRecord:
    """What the badge beside a fan needs from an evaluation; small enough to keep on disk as JSON."""

    numbers: dict  # TrustReport.badge()
    settings: dict
    calibration: FanCalibration | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"numbers": self.numbers, "settings": self.settings, "notes": self.notes,
                "calibration": None if self.calibration is None else self.calibration.to_dict()}

    def current(self) -> TrackRecord:
        """This record as today's badge may show it: one scored with another CRPS estimator (before the
        fair one) loses its CRPS numbers, which are not comparable; one whose bands were read with another
        quantile rule (before ``QUANTILE_METHOD``) loses its fan calibration, fitted with that rule; each
        says so."""
        numbers, calibration, notes = self.numbers, self.calibration, list(self.notes)
        if numbers.get("crps_estimator") != CRPS_ESTIMATOR:
            numbers = {k: v for k, v in numbers.items() if not k.startswith("crps_")}
            notes.append(STALE_CRPS_NOTE)
        if numbers.get("quantile_method", "linear") != QUANTILE_METHOD:
            calibration = None
            notes.append(STALE_BAND_NOTE)
        if numbers is self.numbers and calibration is self.calibration:
            return self
        return TrackRecord(numbers, self.settings, calibration, notes)

    def guard_line(self) -> str | None:
        """The training-period guard's sentence of this record (``guard_note``), None when no cut-off was inside."""
        return guard_note(self.numbers)

    def stale_notes(self) -> list[str]:
        """Its notes that say it was scored by an earlier version's rules (``current``)."""
        return [note for note in self.notes if note in (STALE_CRPS_NOTE, STALE_BAND_NOTE)]

    @classmethod
    def from_dict(cls, data: dict) -> TrackRecord:
        cal = data.get("calibration")
        return cls(dict(data["numbers"]), dict(data["settings"]), None if cal is None else FanCalibration.from_dict(cal),
                   list(data.get("notes", [])))


@dataclass
class TrustReport:
    model: EvalResult  # with paths
    baselines: dict[str, EvalResult]
    calibration: FanCalibration | None  # fitted on every scored cut-off (what the forecast page applies)
    check: CalibrationCheck | None  # fitted on the earlier cut-offs, scored on the later ones
    settings: dict = field(default_factory=dict)
    elapsed_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    guard: dict = field(default_factory=dict)  # the training-period guard: period, cut-offs inside, included

    @property
    def cutoffs(self) -> int:
        return len(self.model.cutoffs)

    @property
    def requested(self) -> int:
        return int(self.model.meta.get("requested_cutoffs", self.cutoffs))

    @property
    def cut_short(self) -> bool:
        return self.cutoffs < self.requested

    def direction(self) -> tuple[float, float, float, int]:
        """(hit rate, 95% low, 95% high, cut-offs) of the median's direction at the horizon's last bar."""
        hits = self.model.direction_hit[:, -1]
        lo, hi = wilson_interval(int(hits.sum()), len(hits))
        return float(hits.mean()), lo, hi, len(hits)

    def table(self) -> pd.DataFrame:
        """One row per model: CRPS and MAE of the median (% of the last close), band coverage, direction."""
        cols = ["crps_pct", "mae_pct", "coverage_p10_p90", "direction_hit", "cutoffs", "paths"]
        return pd.DataFrame([r.summary() for r in [self.model, *self.baselines.values()]]).set_index("model")[cols]

    def skill(self) -> pd.DataFrame:
        """The model's skill against each baseline: 1 - model / baseline for CRPS and for the MAE of
        the median (> 0: the model is better)."""
        m = self.model.summary()
        ours = self.model.crps_pct_by_cutoff()
        rows = []
        for r in self.baselines.values():
            lo, hi = skill_interval(ours, r.crps_pct_by_cutoff())
            rows.append({"baseline": r.name, "crps_skill": skill_score(m["crps_pct"], r.summary()["crps_pct"]),
                         "crps_skill_lo": lo, "crps_skill_hi": hi,
                         "mae_skill": skill_score(m["mae_pct"], r.summary()["mae_pct"])})
        return pd.DataFrame(rows).set_index("baseline")

    def coverage_by_step(self) -> pd.DataFrame:
        """p10-p90 coverage per horizon step: the model, each baseline, and (held-out cut-offs only)
        the model before and after calibration."""
        out = {self.model.name: self.model.coverage_by_step()}
        out |= {r.name: r.coverage_by_step() for r in self.baselines.values()}
        if self.check is not None:
            before, after = self.check.by_step()
            out["held-out, raw"], out["held-out, calibrated"] = before, after
        return pd.DataFrame(out, index=pd.RangeIndex(1, self.model.horizon + 1, name="step"))

    def pit_histogram(self, bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """(bin edges, share of the model's PIT values per bin): ``pit_histogram``."""
        return pit_histogram(self.model.pit, bins)

    def guard_line(self) -> str | None:
        """The training-period guard's sentence (``guard_note``), None when no cut-off was inside the period."""
        return guard_note(self.guard)

    def track_record(self) -> TrackRecord:
        return TrackRecord(self.badge(), dict(self.settings), self.calibration, list(self.notes))

    def badge(self) -> dict:
        """The few numbers shown beside a fan (plain JSON values)."""
        s = self.model.summary()
        rate, lo, hi, n = self.direction()
        out = {"coverage": s["coverage_p10_p90"], "nominal": band_nominal(BAND), "cutoffs": self.cutoffs,
               "horizon": self.model.horizon, "first": str(self.model.cutoff_times[0]),
               "last": str(self.model.cutoff_times[-1]), "direction": rate, "direction_ci": [lo, hi],
               "crps_pct": s["crps_pct"], "crps_estimator": CRPS_ESTIMATOR, "quantile_method": QUANTILE_METHOD,
               **self.guard}
        if REFERENCE in self.baselines:
            label = self.baselines[REFERENCE].name
            ref = self.skill().loc[label]
            out |= {"reference": label, "crps_skill": float(ref["crps_skill"]),
                    "crps_skill_ci": [float(ref["crps_skill_lo"]), float(ref["crps_skill_hi"])],
                    "reference_coverage": self.baselines[REFERENCE].summary()["coverage_p10_p90"]}
        if self.check is not None:
            out |= {"held_out_before": self.check.before, "held_out_after": self.check.after,
                    "held_out_cutoffs": self.check.n_test}
        return out


def fitting_cutoffs(n_bars: int, horizon: int, n_cutoffs: int, spacing: int, lookback: int) -> int:
    """How many of the latest ``n_cutoffs`` cut-offs ``spacing`` bars apart fit ``n_bars`` bars, each with
    ``lookback`` bars of history before it and ``horizon`` after it (0: none)."""
    try:
        return len(last_cutoffs(n_bars, horizon, n_cutoffs, spacing, min_history=lookback))
    except ValueError:  # InputError: not even one
        return 0


def cutoffs_words(fit: int, asked: int, n_bars: int, lookback: int, horizon: int) -> str:
    """'the latest 20 cut-offs', or, when fewer fit the bars, 'the latest 10 cut-offs (only 10 of the 20 asked
    for fit these 400 bars: each needs 98 bars of history and 30 after it)'."""
    if fit >= asked:
        return f"the latest {asked} cut-offs"
    return (f"the latest {fit} cut-offs (only {fit} of the {asked} asked for fit these {n_bars} bars: each needs "
            f"{lookback} bars of history and {horizon} after it)")


def guard_cutoffs(frame: pd.DataFrame, cutoffs: list[int], period: TrainingPeriod | None,
                  include_trained: bool, asked: int | None = None) -> tuple[list[int], dict]:
    """The training-period guard of a walk-forward: (the cut-offs to score, the guard's numbers). Cut-offs
    whose first forecast bar lies inside ``period`` are left out unless ``include_trained``;
    ``TrainingPeriodError`` when that leaves none (``asked``: the cut-offs asked for, when more than fit)."""
    trained = trained_on(period, frame["timestamp"].iloc[cutoffs])
    if trained.any() and not include_trained:
        if trained.all():
            fit = (f" (only {len(cutoffs)} of the {asked} asked for fit the bars)"
                   if asked is not None and asked > len(cutoffs) else "")
            # Said as the period, not as "these bars": a model's training period is known by date, not by
            # series, and one that never saw this series still learned how markets moved on those dates.
            raise TrainingPeriodError(
                f"all {len(cutoffs)} cut-offs{fit} fall inside the model's training period ({period.describe()}): it "
                "learned from bars of those dates (this series' or of markets that move with it), so their scores "
                "would measure memory, not forecasting", {"cutoffs": len(cutoffs), "seen_until": str(period.seen_until)},
                Fix(f"evaluate on bars after {period.seen_until.date()}, or include them knowingly ({{setting}})",
                    INCLUDE_TRAINING_PERIOD, True))
        cutoffs = [c for c, t in zip(cutoffs, trained) if not t]
    return cutoffs, {"training_period": None if period is None else period.describe(),
                     "in_training_period": int(trained.sum()), "in_training_period_included": bool(include_trained)}


DEFAULT_CUTOFFS = 20  # the latest cut-offs a walk-forward scores unless asked otherwise (every face's)


@dataclass(frozen=True)
class TrustPlan:
    """What a walk-forward report decides beyond the forecast's settings: the one plan of ``kronos evaluate``,
    ``POST /v1/evaluate``, the MCP tool ``evaluate`` and the app's Evaluate page and badge, each field with its
    ``Knob`` so that every face offers it from here."""

    n_cutoffs: int = knob(DEFAULT_CUTOFFS, Bounds(ge=1), label="Cut-offs", low=1, high=500, setting="cutoffs",
                          help="the latest cut-offs scored, newest first, each with a full horizon of actuals after it")
    spacing: int = knob(0, Bounds(ge=0), label="Bars between cut-offs (0: the horizon)", low=0, high=100_000,
                        more=True, help="bars from one cut-off to the next; at least the horizon keeps the scored "
                                        "windows apart (their actuals never overlap)")
    # No limit by default: a report cut short by the clock would depend on the machine's load, and be kept (and
    # served to every face) under a key that cannot say so; a limit asked for is part of the key and said.
    time_limit_s: int = knob(0, Bounds(ge=0), label="Time limit (s; 0: none)", low=0, high=3600, more=True,
                             setting="time_limit", help="no new cut-off starts after this many seconds (the newest "
                                                        "run first); a run it cuts short says so")
    fit_share: float = knob(0.5, Bounds(gt=0, lt=1), label="Calibration fit share", low=0.2, high=0.8, step=0.05,
                            more=True, help="the earlier cut-offs fit the calibration the held-out check scores on the "
                                            "later ones")
    include_trained: bool = knob(False, label="Include cut-offs inside the model's training period",
                                 setting=INCLUDE_TRAINING_PERIOD,
                                 help="a forecast of bars the model trained or validated on scores memory, not "
                                      "forecasting: such cut-offs are left out of every score unless switched on "
                                      "(and then flagged)")
    baseline_paths: int = bounded(BASELINE_PATHS, ge=1)  # the baselines' own path count, whatever the model's

    def __post_init__(self):
        check_bounds(self)

    def words(self, n_bars: int, horizon: int, lookback: int) -> str:
        """The cut-offs this plan scores on ``n_bars`` bars, in words (``cutoffs_words``): 'the latest 20 cut-offs',
        or how many of them fit when fewer do (each needs ``lookback`` bars of history and the horizon after it)."""
        fit = fitting_cutoffs(n_bars, horizon, self.n_cutoffs, self.spacing or horizon, lookback)
        return cutoffs_words(fit, self.n_cutoffs, n_bars, lookback, horizon)


def evaluate(forecaster, bars, settings: ForecastSettings, plan: TrustPlan = TrustPlan(),
             progress: Callable[[str, int, int], None] | None = None) -> TrustReport:
    """Walk-forward ``forecaster`` (a ``kronos_studio.forecasters.Forecaster``) with ``settings`` on the
    latest ``plan.n_cutoffs`` cut-offs, ``plan.spacing`` bars apart, then the baselines on the cut-offs it
    reached with the same seeds and history windows, and fit the fan calibration. Every cut-off reads
    ``settings.lookback`` bars (None: the forecaster's own lookback), the baselines too.

    Cut-offs whose forecast starts inside the data the model saw (``training_period``) are left out unless
    ``plan.include_trained``; either way the report says how many there were."""
    started = time.perf_counter()
    frame = bars_frame(bars)
    asked = dataclasses.asdict(settings)  # as given: a forecast with the same settings may apply the calibration
    settings = dataclasses.replace(settings, lookback=settings.lookback or forecaster.lookback(settings.horizon))
    horizon = settings.horizon
    cutoffs = last_cutoffs(len(frame), horizon, plan.n_cutoffs, plan.spacing or horizon, min_history=settings.lookback)
    cutoffs, guard = guard_cutoffs(frame, cutoffs, forecaster.training_period(), plan.include_trained, plan.n_cutoffs)

    def report(name):
        return (lambda i, n: progress(name, i, n)) if progress else None

    model = walk_forward(forecaster, frame, settings, cutoffs,
                         WalkForward(keep_paths=True, time_limit_s=plan.time_limit_s or None), report(forecaster.name))
    baselines = {key: walk_forward(b, frame, settings, model.cutoffs, progress=report(b.name))
                 for key, b in default_baselines(plan.baseline_paths).items()}
    calibration = check = None
    notes = []
    if len(model.cutoffs) < 2:
        notes.append("no calibration: it needs at least 2 scored cut-offs")
    else:
        try:
            calibration = FanCalibration.from_result(model)
            check = holdout_check(model, plan.fit_share, BAND)
        except ValueError as e:  # e.g. non-positive prices: the log-ratio scores do not exist
            notes.append(f"no calibration: {e}")
    if guard_note(guard):
        notes.append(guard_note(guard))
    return TrustReport(model, baselines, calibration, check, asked,
                       round(time.perf_counter() - started, 3), notes, guard)
