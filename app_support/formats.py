"""How numbers are shown on every page: prices at the series' own precision (the rule is
``data_sources.numbers.price_decimals``), shares of paths (P(up), P(touch)) rounded alike everywhere (skills and
returns as signed percents: ``desk.metrics.signed_percent``; p-values, missing values and bar times in tables:
``desk.cells``, the rule every face's tables share)."""
from __future__ import annotations

PROBABILITY_DECIMALS = 0  # a share of 30 paths is a multiple of 3.3%: whole percents, on every page
PROBABILITY_COLUMN_FORMAT = f"%.{PROBABILITY_DECIMALS}f%%"  # a table column holding percentage points


def probability_text(p: float) -> str:
    """A share of paths as the Forecast page and the Screener both show it: 0.3667 -> '37%'."""
    return f"{p:.{PROBABILITY_DECIMALS}%}"


def probability_points(p):
    """Shares (0..1) as rounded percentage points for a table column (PROBABILITY_COLUMN_FORMAT): the same
    rounding as probability_text, and still numbers, so the column sorts."""
    return (p * 100).round(PROBABILITY_DECIMALS)


def price_text(value: float, decimals: int) -> str:
    """A price at ``decimals``: 1.205034 at 5 -> '1.20503', 1234.5 at 2 -> '1,234.50'."""
    return f"{value:{price_format(decimals)}}"


def price_format(decimals: int) -> str:
    """Format spec of a price with ``decimals`` (from Bars.price_decimals): ',.4f'."""
    return f",.{decimals}f"


def price_input_format(decimals: int) -> str:
    """printf format of a price with ``decimals`` where Streamlit takes one (a number input, a table column):
    '%.2f'. No thousands separator: Streamlit's printf has none."""
    return f"%.{decimals}f"


def width_text(share: float) -> str:
    """A band width (a share of the last close): one decimal, two below 1% so that an FX band of 0.05% does
    not read as 0.0%."""
    return f"{share:.{2 if abs(share) < 0.01 else 1}%}"


def metric_delta(change: float, decimals: int, note: str, lower_is_better: bool = False) -> dict:
    """``st.metric``'s delta arguments for ``change`` written at ``decimals``, then ``note``: a change that
    rounds to zero there is no move (no arrow, no colour: '±0.0000 vs base'), never a green '↓ -0.0000'."""
    if round(change, decimals) == 0:
        return dict(delta=f"±{0:.{decimals}f} {note}", delta_color="off", delta_arrow="off")
    return dict(delta=f"{change:+.{decimals}f} {note}", delta_color="inverse" if lower_is_better else "normal")
