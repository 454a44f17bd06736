"""The meta-learner: how the ensemble combines its members, and which members it was trained with.

LightGBM predicts, from the features of a cut-off (``features.py``), how much better or worse each
member's CRPS will be than the random walk's there (log ratio): the ``softmax`` method weighs the members
softmax(-prediction / temperature). The other methods (``combine.py``: stacking, quantile averaging)
keep fixed weights per asset class and interval. ``method`` is the one chosen on the latest training
cut-offs; every method's parameters are kept, so each can be scored. ``identities`` records every
member it was trained with (key, name, and for a model its revision and weights' hash), so it is never
applied to other members without a word (``Ensemble``).

Saved as LightGBM's own text model plus a JSON of everything else: nothing is pickled.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from data_sources.storage import atomic_write, atomic_write_text
from kronos.errors import Fix, InputError
from kronos.lazy import np, pd

MODEL_FILE, META_FILE = "meta_learner.txt", "meta_learner.json"
REFERENCE = "random_walk"  # the member whose CRPS the others are measured against
SERIES_FEATURES = ("asset_class", "log_interval_minutes", "horizon", "log_vol", "vol_ratio", "momentum_z")
MEMBER_FEATURES = ("log_band_vs_reference", "log_band_vs_median", "move_vs_median", "band_vs_series",
                   "first_step_share")
FEATURES = ("member", *SERIES_FEATURES, *MEMBER_FEATURES)
CATEGORICAL = ("member", "asset_class")
TARGET_CLIP = 2.0  # |log CRPS ratio| beyond e^2 is one bad cut-off, not a pattern to learn
LGB_PARAMS = {"objective": "regression", "learning_rate": 0.05, "num_leaves": 8, "min_data_in_leaf": 20,
              "feature_fraction": 0.9, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
              "verbose": -1, "seed": 0, "deterministic": True, "num_threads": 1}
ROUNDS = 200


@dataclass
class MetaLearner:
    booster: object  # lightgbm.Booster
    members: list[str]  # member keys, in the order of the categorical code
    temperature: float = 0.25  # the softmax method's
    spread: float = 1.0  # the softmax method's
    info: dict = field(default_factory=dict)
    files_sha256: str | None = None  # of the files it was loaded from (None: trained in memory)
    method: str = "softmax"  # the combination the ensemble applies (``combine.METHODS``)
    combinations: dict = field(default_factory=dict)  # stacking/quantile -> {"weights": {group: {key: w}}, "spread"}
    identities: dict = field(default_factory=dict)  # member key -> ``members.member_identity``
    folder: Path | None = None  # where it was loaded from

    def spread_of(self, method: str) -> float:
        return self.spread if method == "softmax" else float(self.combinations[method]["spread"])

    def trained_groups(self) -> set[str] | None:
        """The (asset class/interval) groups with weights of their own; None when it stores no fixed weights."""
        from .combine import ALL

        groups = {g for c in self.combinations.values() for g in c["weights"]} - {ALL}
        return groups if self.combinations else None

    def group_weights(self, method: str, group: str) -> dict[str, float]:
        """The fixed weights of ``method`` for ``group`` (``combine.group_key``), else those fitted on all
        groups together."""
        from .combine import ALL

        weights = self.combinations[method]["weights"]
        w = weights.get(group, weights[ALL])
        total = sum(w.values())  # stored rounded: renormalised so they sum to 1
        return {k: v / total for k, v in w.items()}

    def parameters(self, method: str | None = None) -> dict:
        """What ``method`` (default: the chosen one) applies, for provenance."""
        from .combine import EQUAL

        method = method or self.method
        if method == EQUAL:
            return {"method": method, "spread": 1.0}
        if method == "softmax":
            return {"method": method, "temperature": self.temperature, "spread": self.spread}
        return {"method": method, **self.combinations[method]}

    def mismatch(self, given: dict[str, dict]) -> str | None:
        """Why this meta-learner cannot weigh members with identities ``given`` (key -> identity), or None
        when they are the members it was trained with."""
        missing = [k for k in self.members if k not in given]
        if missing:
            return f"trained with the members {self.members}; missing {missing}"
        unknown = [k for k in given if k not in self.members]
        if unknown:
            return f"trained with the members {self.members} and cannot weigh {unknown}"
        if not self.identities:  # e.g. fitted on the ledger, whose rows keep no identities: keys only (Ensemble says so)
            return None
        differ = [k for k in self.members if self.identities.get(k, {}).get("digest") != given[k].get("digest")]
        if differ:
            return (f"trained with {', '.join(identity_label(self.identities.get(k, {'key': k})) for k in differ)}, "
                    f"not {', '.join(identity_label(given[k]) for k in differ)}")
        return None

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        """Predicted log(CRPS member / CRPS random walk) for rows holding FEATURES ('member' as key)."""
        x = rows.assign(member=rows["member"].map(self.members.index)).loc[:, list(FEATURES)]
        return self.booster.predict(x.astype(float).to_numpy())

    def weights(self, rows: pd.DataFrame, temperature: float | None = None) -> dict[str, float]:
        """Member key -> mixture weight for the rows of one cut-off (one row per member); ``temperature``
        overrides the learner's own (the training search tries several)."""
        known = rows[rows["member"].isin(self.members)]
        if known.empty:
            raise ValueError(f"the meta-learner knows the members {self.members}, none of {list(rows['member'])}")
        return dict(zip(known["member"], softmax_weights(self.predict(known), temperature or self.temperature)))

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        atomic_write(folder / MODEL_FILE, lambda tmp: self.booster.save_model(tmp))
        atomic_write_text(folder / META_FILE, json.dumps(
            {"members": self.members, "identities": self.identities, "method": self.method,
             "temperature": self.temperature, "spread": self.spread, "combinations": self.combinations,
             "features": list(FEATURES), "info": self.info}, indent=2, default=str))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> MetaLearner:
        import lightgbm as lgb

        folder = Path(folder)
        try:
            meta = json.loads((folder / META_FILE).read_text())
            booster = lgb.Booster(model_file=str(folder / MODEL_FILE))
        except (OSError, ValueError, lgb.basic.LightGBMError) as e:
            raise InputError(f"{folder} holds no readable meta-learner ({MODEL_FILE} + {META_FILE}): {e}",
                             {"folder": str(folder)}, Fix("give a trained meta-learner's folder as {setting}", "meta")) from None
        if meta.get("features") != list(FEATURES):
            raise InputError(f"{folder}: the meta-learner was trained on other features ({meta.get('features')})",
                             {"folder": str(folder), "features": meta.get("features")},
                             Fix("retrain it with this version and give it as {setting}", "meta"))
        return cls(booster, meta["members"], meta["temperature"], meta["spread"], meta.get("info", {}),
                   files_digest(folder), meta.get("method", "softmax"), meta.get("combinations", {}),
                   meta.get("identities", {}), folder)


def identity_label(identity: dict) -> str:
    """'kronos=studio-tiny@1a2b3c4d5e6f7a8b': a member's key, model (or name) and identity digest."""
    what = identity.get("model") or identity.get("name")
    return f"{identity.get('key')}={what}@{identity.get('digest')}" if what else f"{identity.get('key')}@{identity.get('digest')}"


def files_digest(folder: str | Path) -> str:
    """sha256 (16 hex digits) of a meta-learner's two files: what a forecast's provenance names it by. The
    files are read again only when their modification time or size changed. Raises OSError when missing."""
    files = [Path(folder) / name for name in (MODEL_FILE, META_FILE)]
    return _digest_of(tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files))


@lru_cache(maxsize=8)
def _digest_of(stats: tuple) -> str:
    h = hashlib.sha256()
    for path, *_ in stats:
        h.update(Path(path).read_bytes())
    return h.hexdigest()[:16]


def softmax_weights(predicted: np.ndarray, temperature: float) -> np.ndarray:
    """Weights softmax(-predicted log CRPS ratio / temperature)."""
    scores = -np.asarray(predicted) / temperature
    w = np.exp(scores - scores.max())
    return w / w.sum()


def fit_booster(table: pd.DataFrame, members: list[str]):
    """LightGBM on the rows of ``table`` (FEATURES + 'target')."""
    import lightgbm as lgb

    x = table.assign(member=table["member"].map(members.index)).loc[:, list(FEATURES)].astype(float)
    y = table["target"].clip(-TARGET_CLIP, TARGET_CLIP).to_numpy()
    data = lgb.Dataset(x.to_numpy(), y, feature_name=list(FEATURES), categorical_feature=list(CATEGORICAL),
                       free_raw_data=False)
    return lgb.train(LGB_PARAMS, data, num_boost_round=ROUNDS)
