"""Errors raised by the data layer. Every message names the problem and the fix."""

from __future__ import annotations

from kronos.errors import Fix, UserError

# The remedy when a file holds several instruments: name one.
CHOOSE_SYMBOL = Fix("choose one with {setting}", "symbol")


class DataSourceError(UserError):
    """Base class: anything that stops us from producing valid bars."""


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
