"""How many decimals a series' prices are shown with (data_sources.numbers.price_decimals): the decimals they
are written with, up to what a quoted price carries."""
from __future__ import annotations

import numpy as np
import pytest

from data_sources.numbers import price_decimals


@pytest.mark.parametrize(("prices", "decimals"), [
    ([1.20503, 1.20511, 1.2049], 5),  # an FX pair's pips
    ([151.234, 151.3, 150.987], 3),  # USD/JPY
    ([101.5, 99.25, 100.0], 2),  # cents at least
    ([43250.12, 43311.5], 2),  # a coin in USDT, seven significant digits
    ([0.00001234, 0.00001301], 8),  # a small coin
    ([189.9843, 190.0112], 4),  # sub-penny equity quotes (seven significant digits) stay as written
])
def test_prices_are_shown_with_the_decimals_they_are_written_with(prices, decimals):
    assert price_decimals(np.array(prices)) == decimals


def test_adjusted_prices_written_with_six_decimals_are_shown_at_a_quoted_precision():
    """A vendor's adjusted closes written to six decimals ("1298.217163": ten significant digits, no instrument
    is quoted so finely) are shown as the noisy ones are, to five significant digits (at least cents): the
    Screener once showed "1,298.217163"."""
    rng = np.random.default_rng(0)
    adjusted = np.round(1298 + rng.normal(0, 5, 300), 6)
    assert price_decimals(adjusted) == 2
    assert price_decimals(np.round(12.98 + rng.normal(0, 0.05, 300), 6)) == 3
