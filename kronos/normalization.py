"""Per-window z-scoring of bars, exactly as the official predictor does it (inference and training
share these, so a model is trained on the inputs it will see)."""
from __future__ import annotations

from kronos.lazy import np

PRICE_NORM_EPS = 1e-5  # added to the std before dividing: a flat column stays finite
CLIP = 5.0  # normalised values are clipped to ±CLIP


def normalization_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column float32 mean and population std, each reduced over a contiguous column (this is
    what makes them bit-identical to upstream's)."""
    cols = [np.ascontiguousarray(x[:, j]) for j in range(x.shape[1])]
    mu = np.array([c.mean() for c in cols], dtype=np.float32)
    sigma = np.array([c.std() for c in cols], dtype=np.float32)
    return mu, sigma


def normalize(x: np.ndarray, mu: np.ndarray, sigma: np.ndarray, clip: float = CLIP) -> np.ndarray:
    return np.clip((x - mu) / (sigma + PRICE_NORM_EPS), -clip, clip)


def denormalize(z: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    return z * (sigma + PRICE_NORM_EPS) + mu
