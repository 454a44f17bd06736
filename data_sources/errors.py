"""Errors raised by the data layer. Every message names the problem and the fix. And a refusal in the studio's
words where a data library's would reach the user (``in_studio_words``: curl's, pandas', json's), which every face
words from."""

from __future__ import annotations

import json
import re
import sys

from kronos.errors import UNAVAILABLE, Fix, InputError, UserError
from kronos.lazy import pd

# The remedy when a file holds several instruments: name one.
CHOOSE_SYMBOL = Fix("choose one with {setting}", "symbol")


class DataSourceError(UserError):
    """Base class: anything that stops us from producing valid bars."""

    refusal = UNAVAILABLE


class SymbolNotFoundError(DataSourceError):
    """The source does not know the symbol (typo, delisted, wrong suffix)."""


class EmptyDataError(DataSourceError):
    """The source answered but returned no bars for the request."""


class RateLimitError(DataSourceError):
    """The source refused the request because too many were sent."""


class SourceUnavailableError(DataSourceError):
    """Network down, DNS failure, timeout, or the service itself is down."""


class DataFormatError(DataSourceError):
    """A file or payload cannot be read into the bars schema."""


# Errors for which serving cached (stale) bars is the right fallback:
# the request itself was fine, the world was not.
TRANSIENT_ERRORS = (RateLimitError, SourceUnavailableError)


class MultipleSymbolsError(DataFormatError):
    """A long file with several instruments: one must be chosen, never a mixture of them."""

    def __init__(self, message: str, symbols: list[str], fix: Fix | tuple[Fix, ...] = ()):
        super().__init__(message, {"symbols": symbols}, fix)
        self.symbols = symbols


# A parenthesized quote of another library's exception in a message: "(DNSError: Failed to perform, curl: (6) ...)"
LIBRARY_QUOTE = re.compile(r"\(\s*\w*(Error|Exception|Timeout|Warning)\w*\s*:|\(.*\bcurl\b", re.IGNORECASE)


def without_groups(text: str, drop) -> str:
    """``text`` without each outermost parenthesized group (nested ones included) that ``drop(group)`` is true of,
    and the space before it."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            if depth == 0:
                out.append(text[start:i])
                start = i
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
            if depth == 0:
                group = text[start:i + 1]
                if drop(group):
                    out[-1] = out[-1].rstrip()
                else:
                    out.append(group)
                start = i + 1
    out.append(text[start:])
    return "".join(out).strip()


def in_studio_words(e: BaseException) -> BaseException:
    """``e``, or the refusal it means in the studio's words where it would hand the user another library's wording:
    a data source's error quoting what its HTTP client said (curl's DNS text), a date past what pandas keeps
    ("Cannot cast ... to unit='ns'"), text that is not JSON."""
    if isinstance(e, DataSourceError):
        cause = str(e.__cause__ or "").strip()[:40]

        def quoted(fragment: str) -> bool:  # what another library said, in parentheses
            return bool(LIBRARY_QUOTE.match(fragment.strip()) or (cause and cause in fragment))

        problem = without_groups(e.problem, quoted)
        if problem != e.problem:
            return type(e)(problem, e.values, e.fix)
    past_pandas = "pandas" in sys.modules and isinstance(e, (pd.errors.OutOfBoundsDatetime,
                                                              pd.errors.OutOfBoundsTimedelta))  # else never raised
    if past_pandas or isinstance(e, OverflowError):
        return InputError("the bar times asked for run past the latest time the studio can keep (the year 2262)",
                          fix=(Fix("ask for a shorter {setting}", "horizon"), Fix("check the bars' timestamps")))
    if isinstance(e, json.JSONDecodeError):
        return InputError(f"the text is not JSON (at line {e.lineno}, column {e.colno})")
    return e
