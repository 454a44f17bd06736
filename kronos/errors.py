"""The core's one user-facing error type (no dependencies, so any module can raise it)."""


class InputError(ValueError):
    """Bars or settings that cannot be forecast, with what is wrong and how to fix it."""
