"""What a forecast gives, without torch: ``Forecast``, the sampled paths with their quantiles, future bar
times, the history read and the provenance (what it was asked for: ``kronos.settings``)."""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from kronos.lazy import np, pd

from .bars import InputError, input_digest
from .config import BAR_COLUMNS
from .quantiles import DEFAULT_QUANTILES, level_name, path_quantiles
from .settings import ForecastSettings


@dataclass
class Forecast:
    timestamps: pd.DatetimeIndex  # future bar times, length horizon
    paths: np.ndarray  # [paths, horizon, 6] float32, price units, columns BAR_COLUMNS
    mean: np.ndarray  # [horizon, 6]: the official predictor's output (mean in normalised space)
    history: pd.DataFrame  # the context bars used: timestamp + BAR_COLUMNS
    settings: ForecastSettings
    provenance: dict = field(default_factory=dict)
    members: dict = field(default_factory=dict)  # key -> each mixed model's own paths [S, H, 6]; {} for one model

    columns = BAR_COLUMNS

    def quantiles(self, levels: Sequence[float] = DEFAULT_QUANTILES) -> pd.DataFrame:
        """One row per future timestamp; columns like ``close_p10`` for every field and level."""
        levels = [float(q) for q in levels]
        if any(not 0 <= q <= 1 for q in levels):
            raise InputError(f"quantile levels must lie in [0, 1], got {levels}")
        q = path_quantiles(self.paths, levels)  # [levels, horizon, 6]
        data = {f"{col}_{level_name(lv)}": q[i, :, j]
                for j, col in enumerate(self.columns) for i, lv in enumerate(levels)}
        return pd.DataFrame(data, index=pd.Index(self.timestamps, name="timestamp"))

    def paths_frame(self) -> pd.DataFrame:
        """Long table: one row per (path, timestamp)."""
        s, p, _ = self.paths.shape
        frame = pd.DataFrame(self.paths.reshape(s * p, -1), columns=list(self.columns))
        frame.insert(0, "timestamp", np.tile(self.timestamps, s))
        frame.insert(0, "path", np.repeat(np.arange(s), p))
        return frame



def history_provenance(history: pd.DataFrame, settings: ForecastSettings, started: float) -> dict:
    """The provenance every forecast carries about what it read and was asked for: the seed, the history
    (content hash, first and last bar, bars read), the settings, when it was made and how long it took
    since ``started`` (``time.perf_counter``)."""
    return {"seed": int(settings.seed), "input_sha256": input_digest(history),
            "history_start": str(history["timestamp"].iloc[0]), "history_end": str(history["timestamp"].iloc[-1]),
            "bars_used": len(history), "lookback_default": settings.lookback is None,  # the model's own default
            "settings": dataclasses.asdict(settings),
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "elapsed_s": round(time.perf_counter() - started, 3)}
