"""How a table of words says a value, one rule for every face (the command line prints these cells, the app shows
them): p-values to three decimals or 'p < 0.001', '–' where there is none, counts with thousands separators, a
truth value as yes/no, shares as percents, a bar's time with its weekday and zone."""
from __future__ import annotations

from kronos.lazy import np

MISSING = "–"  # a value a table cannot give (a test that could not run, a zone that does not apply)
P_FLOOR = 0.001  # p-values below it are said as "p < 0.001": more digits claim a precision no test has


def missing(x) -> bool:
    """None, NaN or NA: nothing to show."""
    try:
        return x is None or bool(x != x)
    except (TypeError, ValueError):  # an array or another value with no truth: something to show
        return False


def p_text(p) -> str:
    """A p-value as tables show it: three decimals, 'p < 0.001' below that, '–' when there is none."""
    if missing(p):
        return MISSING
    return f"p < {P_FLOOR:g}" if float(p) < P_FLOOR else f"{float(p):.3f}"


def number_text(x, spec: str = ".4g") -> str:
    """A number in a table of words: ``spec`` (four significant digits), '–' when there is none, 'yes'/'no' for a
    truth value, text as it is, a whole number (at a general ``spec``) with its thousands separated."""
    if missing(x):
        return MISSING
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, str):
        return x
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    if isinstance(x, (float, np.floating)) and float(x).is_integer() and abs(x) < 1e15 and spec.endswith("g"):
        return f"{int(x):,}"
    return format(float(x), spec)


def counted(n: int, noun: str) -> str:
    """'1 forecast', '3 forecasts': how a message counts things."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def percent_text(x) -> str:
    """A share of a position's value (a VaR, a volatility) to two decimals of a percent: 0.01234 -> '1.23%'."""
    return MISSING if missing(x) else f"{float(x):.2%}"


def bar_time_text(t) -> str:
    """A bar's time with its weekday and zone, so that a span over a weekend or a holiday shows it: 'Mon 2027-01-04
    19:00 UTC'."""
    return f"{t:%a %Y-%m-%d %H:%M %Z}".strip()
