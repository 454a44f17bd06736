"""Do the sampled paths look like markets? The stylized facts (Cont 2001) of a forecast's paths against its
history's own, so a user sees whether the tails behind a VaR are believable.

On close-to-close log-returns (a path's first from the last observed close); a path's statistics pool the
(r_t, r_{t+k}) pairs within each path, never across two paths, and the history is one path:

* excess kurtosis of the returns (``scipy.stats.kurtosis``; 0 for the normal, markets well above);
* autocorrelation of |r| at lags 1-10 (volatility clustering; a lag needs a horizon longer than it);
* leverage: corr(r_t, |r_{t+1}|) (negative when falls raise later volatility);
* volume–|return| correlation (0 where the volume is flat: a model that does not forecast it);
* OHLC validity: the share of bars with high >= max(open, close) and low <= min(open, close).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from kronos.config import BAR_COLUMNS, CLOSE
from kronos.errors import Notice
from kronos.lazy import np, pd
from kronos_studio.evaluation.path_stats import HIGH, LOW, OPEN

VOLUME = BAR_COLUMNS.index("volume")
ACF_LAGS = tuple(range(1, 11))


@dataclass(frozen=True)
class Facts:
    source: str  # "history" or "paths"
    returns: int  # returns the facts are read from
    excess_kurtosis: float | None
    abs_acf: dict[int, float]  # lag -> autocorrelation of |r| (lags the bars can hold)
    leverage: float | None
    volume_abs_return: float | None
    ohlc_valid: float  # share of bars


@dataclass
class StylizedCheck:
    history: Facts
    paths: Facts
    notices: list[Notice] = field(default_factory=list)

    def table(self) -> pd.DataFrame:
        """One row per fact, the history's and the paths' side by side."""
        def flat(f: Facts) -> dict:
            return {"excess_kurtosis": f.excess_kurtosis, **{f"abs_acf_{k}": v for k, v in f.abs_acf.items()},
                    "leverage": f.leverage, "volume_abs_return": f.volume_abs_return, "ohlc_valid": f.ohlc_valid}
        return pd.DataFrame({"history": flat(self.history), "paths": flat(self.paths)})

    def to_dict(self) -> dict:
        return {"history": asdict(self.history), "paths": asdict(self.paths),
                "notices": [n.worded() for n in self.notices]}


def _pairs_corr(x: np.ndarray, y: np.ndarray, lag: int) -> float | None:
    """corr(x_t, y_{t+lag}) over the pairs within each row of [S, n] arrays; None when there are under 3
    pairs or either side does not vary."""
    from scipy.stats import pearsonr

    a, b = x[:, :x.shape[1] - lag].ravel(), y[:, lag:].ravel()
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(pearsonr(a, b).statistic)


def facts(bars: np.ndarray, previous_close, source: str) -> tuple[Facts, list[Notice]]:
    """The stylized facts of ``bars`` [S, n, 6] (S paths of n bars; the history: S = 1), each row's first
    return from ``previous_close`` ([S] or a number; NaN: none)."""
    from scipy.stats import kurtosis

    b = np.asarray(bars, np.float64)
    close = b[..., CLOSE]
    prev = np.broadcast_to(np.asarray(previous_close, np.float64), close.shape[:1])[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        series = np.log(np.where(np.concatenate([prev, close], axis=1) > 0, np.concatenate([prev, close], axis=1), np.nan))
    r = np.diff(series, axis=1)
    flat = r[np.isfinite(r)]
    notices = []
    kurt = float(kurtosis(flat, fisher=True)) if len(flat) > 3 and np.ptp(flat) > 0 else None
    if kurt is None:
        notices.append(Notice(f"the {source} have too few varying returns for a kurtosis", kind="note"))
    n = r.shape[1]
    acf = {k: v for k in ACF_LAGS if k < n and (v := _pairs_corr(np.abs(r), np.abs(r), k)) is not None}
    missing = [k for k in ACF_LAGS if k not in acf]
    if missing:
        notices.append(Notice(f"the {source} ({n} returns each) give no |return| autocorrelation at lag "
                              f"{', '.join(map(str, missing))}: a lag needs more bars than it", kind="note",
                              values={"source": source, "lags": missing}))
    leverage = _pairs_corr(r, np.abs(r), 1)
    volume = b[..., VOLUME]
    vol_corr = _pairs_corr(volume, np.abs(r), 0)
    if vol_corr is None:
        notices.append(Notice(f"the {source}' volume does not vary (not forecast): no volume–|return| correlation",
                              kind="note", values={"source": source}))
    o, h, lo, c = b[..., OPEN], b[..., HIGH], b[..., LOW], close
    valid = (h >= np.maximum(o, c)) & (lo <= np.minimum(o, c))
    return Facts(source, int(len(flat)), kurt, acf, leverage, vol_corr, float(valid.mean())), notices


def stylized_check(forecast) -> StylizedCheck:
    """The stylized facts of ``forecast``'s paths against its history's."""
    hist = forecast.history[list(BAR_COLUMNS)].to_numpy(np.float64)
    past, said = facts(hist[None, 1:], hist[0, CLOSE], "history bars")
    ahead, told = facts(np.asarray(forecast.paths), float(hist[-1, CLOSE]), "sampled paths")
    return StylizedCheck(past, ahead, said + told)
