"""Conformal calibration of forecast fans, fitted on walk-forward results.

For each horizon step ``h`` and quantile level ``u``, a past cut-off scores ``log(actual / q_u)``, where
``q_u`` is the model's ``u``-quantile there. Moving the model's ``u``-quantile by ``exp(delta(u, h))``,
with ``delta`` the conformal quantile of those scores, gives a fan whose ``u``-quantile is exceeded with
probability at most ``1 - u`` (``u >= 1/2``) or undershot with probability at most ``u`` (``u < 1/2``)
on cut-offs exchangeable with the fitted ones: split conformal prediction, one level at a time
(Romano, Patterson and Candes 2019, with per-level scores). A too-narrow fan is widened, a too-wide
one narrowed, a biased median moved.

Applied to a forecast, every sampled path is moved by the shift of its rank at each step (the order
of the paths, hence their joint behaviour across steps, is kept), so bands, threshold probabilities
and drawdowns all come from the calibrated paths. Open, high and low scale with the close of their
bar, which keeps every candle coherent; volume and amount are left as sampled.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from kronos.config import BAR_COLUMNS
from kronos.errors import Fix, InputError
from kronos.lazy import np
from kronos.quantiles import draw_levels, path_quantiles

from .metrics import band_covers, crps_samples

LEVELS = tuple(round(float(u), 2) for u in np.arange(0.01, 1.0, 0.01))
CANDLE = [BAR_COLUMNS.index(c) for c in ("open", "high", "low")]


def conformal_ranks(n: int, levels: np.ndarray) -> np.ndarray:
    """1-based rank of the sorted scores used for each level: ceil((n+1)u) above the median (upper
    bounds), floor((n+1)u) below it (lower bounds), clipped to [1, n] (the clip loses the guarantee)."""
    levels = np.asarray(levels, dtype=np.float64)
    scaled = (n + 1) * levels
    ranks = np.where(levels >= 0.5, np.ceil(scaled - 1e-9), np.floor(scaled + 1e-9)).astype(int)
    return np.clip(ranks, 1, n)


@dataclass(frozen=True)
class FanCalibration:
    """Per-level, per-step log shifts of one column's quantiles, fitted on ``n_cutoffs`` past cut-offs."""

    column: str
    levels: np.ndarray  # [L] quantile levels, increasing
    shifts: np.ndarray  # [L, H] log shifts
    n_cutoffs: int

    @property
    def horizon(self) -> int:
        return self.shifts.shape[1]

    @classmethod
    def fit(cls, paths: np.ndarray, actual: np.ndarray, column: str = "close",
            levels=LEVELS) -> FanCalibration:
        """``paths`` [cut-offs, S, H] of one column, ``actual`` [cut-offs, H] of the same column."""
        paths = np.asarray(paths, dtype=np.float64)
        actual = np.asarray(actual, dtype=np.float64)
        if paths.ndim != 3 or actual.shape != (paths.shape[0], paths.shape[2]):
            raise ValueError(f"need paths [cut-offs, S, H] and actuals [cut-offs, H], got {paths.shape} "
                             f"and {actual.shape}")
        levels = np.asarray(levels, dtype=np.float64)
        q = path_quantiles(paths, levels, axis=1)  # [L, C, H]
        if (q <= 0).any() or (actual <= 0).any():
            raise ValueError(f"calibration works on log ratios: every {column} value must be positive")
        scores = np.sort(np.log(actual[None] / q), axis=1)
        ranks = conformal_ranks(paths.shape[0], levels) - 1
        shifts = np.take_along_axis(scores, ranks[:, None, None], axis=1)[:, 0]
        return cls(column, levels, shifts, paths.shape[0])

    @classmethod
    def from_result(cls, result, rows: slice = slice(None)) -> FanCalibration:
        """Fit on a walk-forward ``EvalResult`` run with ``keep_paths=True`` (optionally some cut-offs)."""
        if result.paths is None:
            raise ValueError("calibration needs the sample paths: run walk_forward with keep_paths=True")
        col = BAR_COLUMNS.index(result.column)
        return cls.fit(result.paths[rows, :, :, col], result.actual[rows], result.column)

    def guaranteed(self, band=(0.1, 0.9)) -> bool:
        """Whether enough cut-offs were fitted for the band's conformal guarantee (no clipped rank)."""
        lo, hi = sorted(band)
        n = self.n_cutoffs
        return np.floor((n + 1) * lo + 1e-9) >= 1 and np.ceil((n + 1) * hi - 1e-9) <= n

    def apply_values(self, values: np.ndarray) -> np.ndarray:
        """Calibrated copy of one column's paths [S, H'] (H' <= the fitted horizon)."""
        x = np.asarray(values, dtype=np.float64)
        steps = x.shape[1]
        if steps > self.horizon:
            raise InputError(f"the calibration covers {self.horizon} steps, the forecast has {steps}",
                             {"calibrated_steps": self.horizon, "steps": steps},
                             Fix(f"re-run the evaluation with {{setting}} at least {steps}", "horizon"))
        order = np.argsort(x, axis=0, kind="stable")
        ranked = np.take_along_axis(x, order, axis=0)
        u = draw_levels(x.shape[0])
        delta = np.stack([np.interp(u, self.levels, self.shifts[:, h]) for h in range(steps)], axis=1)
        moved = np.where(ranked > 0, ranked * np.exp(delta), ranked)
        out = np.empty_like(moved)
        np.put_along_axis(out, order, np.sort(moved, axis=0), axis=0)  # rearranged: quantiles stay monotone
        return out

    def apply(self, forecast):
        """A calibrated copy of a ``Forecast`` (paths, mean and provenance)."""
        col = BAR_COLUMNS.index(self.column)
        paths = forecast.paths.astype(np.float64)
        old = paths[:, :, col].copy()
        new = self.apply_values(old)
        paths[:, :, col] = new
        if self.column == "close":  # the candle follows its close
            factor = np.divide(new, old, out=np.ones_like(new), where=old > 0)
            paths[:, :, CANDLE] *= factor[:, :, None]
        provenance = {**forecast.provenance,
                      "calibration": {"method": "split conformal, per level and horizon step (log ratios)",
                                      "column": self.column, "cutoffs": self.n_cutoffs,
                                      "horizon": self.horizon}}
        return dataclasses.replace(forecast, paths=paths.astype(np.float32),
                                   mean=paths.mean(axis=0).astype(np.float32), provenance=provenance)

    def to_dict(self) -> dict:
        return {"column": self.column, "levels": self.levels.tolist(), "shifts": self.shifts.tolist(),
                "n_cutoffs": self.n_cutoffs}

    @classmethod
    def from_dict(cls, data: dict) -> FanCalibration:
        return cls(data["column"], np.asarray(data["levels"], dtype=np.float64),
                   np.asarray(data["shifts"], dtype=np.float64), int(data["n_cutoffs"]))


@dataclass(frozen=True)
class CalibrationCheck:
    """Band coverage on held-out cut-offs before and after a calibration fitted on earlier ones."""

    band: tuple[float, float]
    n_fit: int
    n_test: int
    covered_before: np.ndarray  # [n_test, H] bool
    covered_after: np.ndarray
    crps_before: float  # mean CRPS over the held-out cut-offs and steps, price units
    crps_after: float
    guaranteed: bool  # enough fitted cut-offs for the band's finite-sample guarantee

    @property
    def nominal(self) -> float:
        return self.band[1] - self.band[0]

    @property
    def before(self) -> float:
        return float(self.covered_before.mean())

    @property
    def after(self) -> float:
        return float(self.covered_after.mean())

    def by_step(self) -> tuple[np.ndarray, np.ndarray]:
        return self.covered_before.mean(axis=0), self.covered_after.mean(axis=0)


def holdout_check(result, fit_share: float = 0.5, band=(0.1, 0.9)) -> CalibrationCheck:
    """Fit on the earliest ``fit_share`` of a walk-forward's cut-offs, score the band on the later
    ones (never used for fitting), before and after calibration."""
    n = len(result.cutoffs)
    n_fit = int(round(n * fit_share))
    if n_fit < 1 or n - n_fit < 1:
        raise InputError(f"{n} cut-offs cannot be split into fitting and held-out parts (share {fit_share})",
                         {"cutoffs": n, "fit_share": fit_share}, Fix("evaluate more cut-offs ({setting})", "cutoffs"))
    cal = FanCalibration.from_result(result, slice(0, n_fit))
    col = BAR_COLUMNS.index(result.column)
    lo, hi = sorted(band)
    before, after, crps_b, crps_a = [], [], [], []
    for i in range(n_fit, n):
        raw = result.paths[i, :, :, col].astype(np.float64)
        y = result.actual[i]
        for x, covered, crps in ((raw, before, crps_b), (cal.apply_values(raw), after, crps_a)):
            covered.append(band_covers(x, y, (lo, hi)))
            crps.append(crps_samples(x, y))
    return CalibrationCheck((lo, hi), n_fit, n - n_fit, np.array(before), np.array(after),
                            float(np.mean(crps_b)), float(np.mean(crps_a)), bool(cal.guaranteed(band)))
