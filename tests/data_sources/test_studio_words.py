"""``data_sources.errors.in_studio_words``: what a data library said (curl's, pandas', json's) reaches no face."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from data_sources.errors import SourceUnavailableError, in_studio_words, without_groups
from kronos.errors import InputError


def test_a_quote_of_the_http_client_is_dropped_and_the_rest_kept():
    cause = ConnectionError("Failed to perform, curl: (6) Could not resolve host")
    try:
        try:
            raise cause
        except ConnectionError as c:
            raise SourceUnavailableError("yfinance cannot be reached (ConnectionError: Failed to perform, curl: (6) "
                                         "Could not resolve host) for AAPL (1d)", {"symbol": "AAPL"}) from c
    except SourceUnavailableError as e:
        said = in_studio_words(e)
    assert type(said) is SourceUnavailableError and said.values == {"symbol": "AAPL"}
    assert said.problem == "yfinance cannot be reached for AAPL (1d)"
    plain = SourceUnavailableError("no answer (the server is down)")
    assert in_studio_words(plain) is plain  # a group that quotes no library stays


def test_a_date_past_pandas_and_text_that_is_not_json_are_the_studios_refusals():
    with pytest.raises(pd.errors.OutOfBoundsDatetime) as past:
        pd.Timestamp("2300-01-01").as_unit("ns")
    said = in_studio_words(past.value)
    assert isinstance(said, InputError) and "2262" in said.problem and said.fix[0].setting == "horizon"
    assert isinstance(in_studio_words(OverflowError("int too large")), InputError)
    with pytest.raises(json.JSONDecodeError) as bad:
        json.loads('{"a": ')
    assert in_studio_words(bad.value).problem == "the text is not JSON (at line 1, column 7)"
    other = ValueError("x")
    assert in_studio_words(other) is other


def test_only_the_groups_asked_for_are_dropped():
    assert without_groups("a (b (c)) d (e)", lambda g: g.startswith("(b")) == "a d (e)"
