"""Each bar's variance read from its candle: what the volatility members and the time-of-day profile
estimate from, far less noisy than the squared close-to-close return."""
from __future__ import annotations

from kronos.lazy import np, pd

GK_BODY = 2 * np.log(2) - 1  # Garman–Klass weight of the squared open-to-close move
PARKINSON = 1 / (4 * np.log(2))  # E[ln(H/L)^2] = 4 ln 2 sigma^2 for a driftless Brownian bar


def range_variance(bars: pd.DataFrame) -> np.ndarray:
    """[n] per-bar variance of the close-to-close log-return, from OHLC (Garman–Klass 1980, with the
    overnight gap as in Yang–Zhang's extension):

        v_t = g_t^2 + 1/2 u_t^2 - (2 ln 2 - 1) c_t^2,
        g_t = ln(O_t / C_{t-1}) (0 for the first bar), u_t = ln(H_t / L_t), c_t = ln(C_t / O_t).

    For a driftless Brownian bar E[v_t] is its variance (GK is ~7 times as efficient as c_t^2). A missing
    or non-positive open gives Parkinson's u_t^2 / (4 ln 2) and no gap term (the gap cannot be told
    apart from the bar). A high below the low is read as the two swapped, and the range is widened to
    cover open and close, so bad or zero ranges never make v_t negative (u_t >= |c_t|, so
    v_t >= 0.11 u_t^2). NaN where high, low or close is not a positive number."""
    def positive(col):
        x = bars[col].to_numpy(np.float64) if col in bars else np.full(len(bars), np.nan)
        return np.where(x > 0, x, np.nan)

    o, h, lo, c = (positive(k) for k in ("open", "high", "low", "close"))
    has_open = np.isfinite(o)
    body_hi = np.where(has_open, np.fmax(o, c), c)
    body_lo = np.where(has_open, np.fmin(o, c), c)
    u = np.log(np.fmax(np.fmax(h, lo), body_hi) / np.fmin(np.fmin(h, lo), body_lo))
    u = np.where(np.isfinite(h) & np.isfinite(lo) & np.isfinite(c), u, np.nan)
    body = np.log(c / o)
    gap = np.log(o / np.r_[np.nan, c[:-1]])
    gap = np.where(np.isfinite(gap), gap, 0.0)
    gk = gap ** 2 + 0.5 * u ** 2 - GK_BODY * body ** 2
    return np.where(has_open, gk, PARKINSON * u ** 2)
