"""Kronos: our implementation of the Kronos foundation model for OHLCV candles."""
