"""The ensemble forecaster: every member forecasts the same cut-off and the meta-learner's method
(``combine.py``) combines them: a linear pool (softmax of the learner's predictions, or stacking
weights) or quantile averaging.

In a linear pool each ensemble path is one member's whole path, so it is as coherent a candle sequence
as that member's; the spread step then scales every path's log-close around the per-step median (open,
high and low move with their close), which keeps candles coherent too.

A meta-learner is only applied to the members it was trained with (their identities: keys, and for
models the revision and weights' hash). Otherwise the ensemble refuses, or, where asked to
(``on_mismatch="equal"``: the bundled meta-learner with a Kronos of the user's choice), weighs the
members equally and says so in its provenance.
"""
from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from kronos.config import MIN_HISTORY
from kronos.errors import Fix, InputError
from kronos.forecast import Forecast
from kronos.lazy import np, pd
from kronos.settings import ForecastSettings
from kronos_studio.forecasters.base import ENSEMBLE_LOOKBACK, Forecaster
from kronos_studio.forecasters.window import future_times, history_window

from .combine import EQUAL, group_key, quantile_average_paths
from .features import asset_class, member_features, recent_vol, series_features
from .members import member_identity
from .meta import REFERENCE, MetaLearner, identity_label

SEED_STRIDE = 7919  # each member draws from its own stream: seed + index x stride


def mixture_counts(weights: dict[str, float], paths: int) -> dict[str, int]:
    """Paths per member that sum to ``paths``, proportional to the weights (largest remainder)."""
    keys = list(weights)
    exact = np.array([weights[k] for k in keys]) * paths
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts))[: paths - counts.sum()]:
        counts[i] += 1
    return dict(zip(keys, counts.tolist()))


def apply_spread(paths: np.ndarray, spread: float) -> np.ndarray:
    """Scale each path's log-close around the per-step median by ``spread``; open, high and low follow
    their bar's close (same factor), volume and amount stay."""
    if spread == 1.0:
        return paths
    out = paths.astype(np.float64).copy()
    log_close = np.log(np.maximum(out[:, :, 3], 1e-12))
    median = np.median(log_close, axis=0, keepdims=True)
    factor = np.exp(median + spread * (log_close - median) - log_close)  # [S, H]
    out[:, :, :4] *= factor[:, :, None]
    return out.astype(np.float32)


def mix(member_paths: dict[str, np.ndarray], weights: dict[str, float], paths: int, spread: float) -> np.ndarray:
    """``paths`` paths taken from the members in proportion to ``weights``, then the spread step."""
    counts = mixture_counts(weights, paths)
    return apply_spread(np.concatenate([member_paths[k][:n] for k, n in counts.items() if n > 0]), spread)


def cutoff_rows(history: pd.DataFrame, member_paths: dict[str, np.ndarray], horizon: int, interval: str,
                asset: str) -> pd.DataFrame:
    """One feature row per member at one cut-off (the meta-learner's input)."""
    base = series_features(history, horizon, interval, asset)
    last, vol = float(history["close"].iloc[-1]), recent_vol(history)
    relative = member_features(member_paths, last, vol, REFERENCE)
    return pd.DataFrame([{"member": key, **base, **relative[key]} for key in member_paths])


@dataclass(frozen=True)
class Mixture:
    """One ensemble forecast: its paths, the weight each member got, and every member's own paths."""

    paths: np.ndarray  # [paths, horizon, 6]
    weights: dict[str, float]
    members: dict[str, np.ndarray]


def member_lookback(member, settings: ForecastSettings) -> int | None:
    """The lookback ``member`` has in an ensemble forecast with ``settings``: its own (None), unless the
    history the ensemble hands its members (``settings.lookback``, else ``ENSEMBLE_LOOKBACK``) is shorter. A
    walk-forward that fits the ensemble's weights gives each member this, so the weights are fitted to the
    members as the ensemble forecasts with them."""
    own, share = member.lookback(settings.horizon), settings.lookback or ENSEMBLE_LOOKBACK
    return None if own <= share else share


# A meta-learner that does not know the members: each entry point names where one is trained and given.
RETRAIN_META = Fix("retrain the meta-learner with these members and give it as {setting}", "meta")


class Ensemble(Forecaster):
    """A forecaster combining ``members`` (key -> forecaster) as ``meta`` says: ``settings.paths`` paths.

    ``method``: a combination other than the meta-learner's chosen one (to score every method).
    ``on_mismatch``: what to do when ``meta`` was trained with other members or other identities:
    "refuse" (a ValueError naming the fix) or "equal" (equal weights, stated in ``weighting``).
    ``notes``: lines for the provenance about how the members were chosen (e.g. why Chronos-2 is not one)."""

    key = "ensemble"
    name = "Ensemble"
    min_history = MIN_HISTORY  # its Kronos member's normalisation (GARCH and HAR fall back to the random walk)

    def __init__(self, members: dict, meta: MetaLearner, interval: str = "1d", asset: str = "equity", *, method: str | None = None, on_mismatch: str = "refuse",
                 meta_label: str = "the meta-learner", notes: dict | None = None):
        known = ("softmax", *meta.combinations, EQUAL)
        if method is not None and method not in known:
            raise ValueError(f"the meta-learner holds the methods {list(known)}, not {method!r}")
        given = {k: member_identity(m) for k, m in members.items()}
        reason = meta.mismatch(given)
        if reason is not None and on_mismatch != "equal":
            missing = [k for k in meta.members if k not in members]
            if missing:
                raise InputError(f"the meta-learner was trained with the members {meta.members}; missing {missing}",
                                 {"members": meta.members, "missing": missing}, RETRAIN_META)
            unknown = [k for k in members if k not in meta.members]
            if unknown:  # it would weigh only the members it knows: the others would be dropped without a word
                leave_out = (Fix("leave Chronos-2 out ({setting}, or KRONOS_STUDIO_CHRONOS2=off)", "chronos2", "off")
                             if "chronos2" in unknown else Fix("leave them out"))
                raise InputError(f"the meta-learner was trained with the members {meta.members} and cannot weigh "
                                 f"{unknown}", {"members": meta.members, "unknown": unknown}, (RETRAIN_META, leave_out))
            raise InputError(f"{meta_label} was {reason}", {"reason": reason}, RETRAIN_META)
        order = meta.members if reason is None else list(members)  # the order the meta-learner knows
        self.members = {k: members[k] for k in order}
        self.meta, self.interval, self.asset = meta, interval, asset
        self.notes = dict(notes or {})
        self.group = group_key(asset, interval)
        self.method = EQUAL if reason is not None else (method or meta.method)
        self.identities = {k: given[k] for k in order}
        self.weighting = ({"rule": EQUAL, "reason": f"{meta_label} was {reason}",
                           "trained_with": meta.identities, "given": self.identities} if reason is not None
                          else {"rule": "meta-learner", **meta.parameters(self.method)})
        notes = []
        if reason is None and not meta.identities:
            notes.append("the meta-learner records no member identities: its members matched by key only")
        groups = meta.trained_groups() if reason is None else None
        if groups is not None and self.group not in groups:  # e.g. minute bars: said, not applied silently
            notes.append(f"it was never trained on {self.group} bars: the weights fitted on all of "
                         f"{', '.join(sorted(groups))} together apply")
        if notes:
            self.weighting["note"] = "; ".join(notes)

    def with_member(self, key: str, member, reads: str) -> tuple[Ensemble, str | None]:
        """This ensemble with ``member`` serving in place of its member ``key`` (the same checkpoint reading more:
        Chronos-2 conditioned on covariates), weighed as the member it replaces; ``reads``: what it reads that
        the other did not, in words. (the ensemble, the line saying its weights were fitted on the member
        replaced, not on this one; None where the members are weighed equally anyway.) Both identities stay in
        the weighting, so no store mistakes one member for the other."""
        if key not in self.members:
            raise KeyError(key)
        out = copy.copy(self)
        out.members = {k: (member if k == key else m) for k, m in self.members.items()}
        out.identities = {**self.identities, key: member_identity(member)}
        out.weighting = {**self.weighting, "replaced": {key: {"weighed": self.identities[key],
                                                              "serving": out.identities[key]}}}
        if self.method == EQUAL:  # no weights were fitted to any member
            return out, None
        said = (f"the meta-learner's weights were fitted on the unconditioned {key} member "
                f"({identity_label(self.identities[key])}), and this forecast's {key} reads {reads}: a different "
                "member than the one weighed")
        out.weighting["note"] = "; ".join(n for n in (self.weighting.get("note"), said) if n)
        return out, said

    def describe_weighting(self) -> str:
        """One line: how the members are weighted, and why when it is not the meta-learner's way."""
        if self.weighting["rule"] == EQUAL:
            return f"equal weights: {self.weighting['reason']}"
        note = self.weighting.get("note")
        return f"{self.method} (meta-learner" + (f"; {note})" if note else ")")

    def member_forecasts(self, history: pd.DataFrame, future, settings: ForecastSettings,
                         progress: Callable[[int, int], None] | None = None) -> dict[str, Forecast]:
        """Every member's forecast from its own window of ``history`` (its lookback: the ensemble's settings
        give the ensemble's), each with ``settings`` whole but its own seed (``SEED_STRIDE``);
        ``progress(i, n)`` after each member."""
        future = future_times(history, history, settings.horizon, future)
        out = {}
        for i, (k, m) in enumerate(self.members.items()):
            own = dataclasses.replace(settings, seed=settings.seed + i * SEED_STRIDE, lookback=None)
            out[k] = m.sample(history_window(m, history, own), future, own)
            if progress is not None:
                progress(i + 1, len(self.members))
        return out

    def member_paths(self, history: pd.DataFrame, future, settings: ForecastSettings,
                     progress: Callable[[int, int], None] | None = None) -> dict[str, np.ndarray]:
        """Every member's paths (``member_forecasts``)."""
        made = self.member_forecasts(history, future, settings, progress)
        return {k: np.asarray(fc.paths, np.float32) for k, fc in made.items()}

    def combine(self, history: pd.DataFrame, member_paths: dict[str, np.ndarray],
                settings: ForecastSettings) -> Mixture:
        """The combination of already sampled member paths (each member gave at least ``settings.paths``)
        into ``settings.paths`` paths by the ensemble's method; ``settings.seed`` draws the quantile-averaged
        paths."""
        method, horizon = self.method, settings.horizon
        if method == EQUAL:
            weights = {k: 1 / len(member_paths) for k in member_paths}
        elif method == "softmax":
            weights = self.meta.weights(cutoff_rows(history, member_paths, horizon, self.interval, self.asset))
        else:
            weights = self.meta.group_weights(method, self.group)
        weights = {k: float(weights.get(k, 0.0)) for k in member_paths}
        spread = 1.0 if method == EQUAL else self.meta.spread_of(method)
        if method == "quantile":
            paths = apply_spread(quantile_average_paths(history, member_paths, weights, settings.paths,
                                                        settings.seed), spread)
        else:
            paths = mix(member_paths, weights, settings.paths, spread)
        return Mixture(paths, weights, member_paths)

    # --- the forecaster seam (kronos_studio.forecasters) ----------------------------------------------
    def lookback(self, horizon: int) -> int:
        return ENSEMBLE_LOOKBACK

    def lookback_reason(self, horizon: int) -> str:
        return f"the ensemble's default, {ENSEMBLE_LOOKBACK}, of which each member reads its own window"

    def training_period(self):
        """The latest period any member learned from: a cut-off inside it is in-sample for the mixture."""
        periods = [p for m in self.members.values() for p in [m.training_period()] if p is not None]
        return max(periods, key=lambda p: p.seen_until, default=None)

    def sample(self, history: pd.DataFrame, future, settings: ForecastSettings, progress=None) -> EnsembleForecast:
        """Every member's paths and their mixture from ``history``, the history every member reads its own
        window of; ``progress(i, n)`` after each member. The provenance records the members, the
        meta-learner, the weights, how many bars each member read and where they ran."""
        future = future_times(history, history, settings.horizon, future)
        made = self.member_forecasts(history, future, settings, progress)
        mixture = self.combine(history, {k: np.asarray(fc.paths, np.float32) for k, fc in made.items()}, settings)
        devices = [d for m in self.members.values() for d in [m.device()] if d != "cpu"]
        described = self.describe()
        for k, fc in made.items():  # what each member sampled with: its own seed, window and paths
            own = {f: v for f, v in dataclasses.asdict(fc.settings).items() if f not in ("horizon", "seed")}
            described["members"][k]["settings"] = {**own, "lookback": len(fc.history), "paths": len(fc.paths)}
        provenance = {"model": self.key, **described, "weights": mixture.weights,
                      "mixture_paths": (mixture_counts(mixture.weights, settings.paths)
                                        if self.method != "quantile" else None),
                      "members_read": {k: len(fc.history) for k, fc in made.items()},
                      "device": devices[0] if devices else "cpu"}
        return EnsembleForecast(pd.DatetimeIndex(future), mixture.paths, mixture.paths.mean(axis=0), history,
                                settings, provenance, members=mixture.members)

    def describe(self) -> dict:
        return {"key": self.key, "members": {k: m.describe() for k, m in self.members.items()},
                "member_identities": self.identities, "weighting": self.describe_weighting(),
                "weighting_rule": self.weighting, **self.notes,
                "meta_learner": {"method": self.meta.method, "temperature": self.meta.temperature,
                                 "spread": self.meta.spread, "files_sha256": self.meta.files_sha256,
                                 **self.meta.info.get("provenance", {})}}


@dataclass
class EnsembleForecast(Forecast):
    """A ``kronos.forecast.Forecast`` of a mixture, whose ``members`` hold every member's own paths (key ->
    [S, H, 6], same times and columns); ``dataclasses.replace`` (the fan calibration) keeps them."""

    def member_seeds(self) -> dict[str, int]:
        """key -> the seed of the stream each member drew from (``Ensemble.member_forecasts``)."""
        return {k: int(self.settings.seed) + i * SEED_STRIDE for i, k in enumerate(self.members)}

    def member_features(self, bars) -> pd.DataFrame:
        """The meta-learner's feature row of each member (index: the key), from the history this forecast
        read and the members' paths, as ``Ensemble.combine`` computes them; ``bars``: the series (its
        interval and asset class)."""
        return cutoff_rows(self.history, self.members, len(pd.DatetimeIndex(self.timestamps)), bars.interval,
                           asset_class(bars.calendar, bars.source)).set_index("member")
