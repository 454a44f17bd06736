"""Issue 53, item 12: a symbol such as ``=cmd|' /C calc'!A0`` is kept as text, and every CSV the studio
writes (the command line's outputs, the app's downloads) escapes a text cell a spreadsheet would run as a
formula; numbers, negative ones included, are written as they are."""
from __future__ import annotations

import ast
import io
import math

import pandas as pd
from testkit import ROOT

from kronos_studio.desk.exports import csv_text, safe_cell, write_csv

# The one module that may call DataFrame.to_csv in the studio's code.
EXPORTS = "kronos_studio/desk/exports.py"


def test_formula_text_is_escaped_and_numbers_are_not():
    frame = pd.DataFrame({"symbol": ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "AAPL", "-0.5", None],
                          "close": [-1.5, 2.0, -3.0, 4.0, 5.0, 6.0, 7.0, math.nan],
                          "kind": pd.Categorical(["=HYPERLINK(\"x\")", "a", "a", "a", "a", "a", "a", "a"])})
    back = pd.read_csv(io.StringIO(csv_text(frame)), keep_default_na=False)
    assert back["symbol"].tolist() == ["'=cmd|' /C calc'!A0", "'+1+1", "'-2+3", "'@SUM(A1)", "'\t=1", "AAPL", "-0.5",
                                       ""]
    assert back["close"].tolist() == ["-1.5", "2.0", "-3.0", "4.0", "5.0", "6.0", "7.0", ""]  # as they were
    assert back["kind"].iloc[0] == "'=HYPERLINK(\"x\")"
    assert frame["symbol"].iloc[0] == "=cmd|' /C calc'!A0"  # the frame itself is left as it was
    assert safe_cell(-1) == -1 and safe_cell("-1e3") == "-1e3" and safe_cell("=") == "'="


def test_write_csv_writes_the_same_escaped_text(tmp_path):
    frame = pd.DataFrame({"series": ["=A1"], "p_up": [-0.25]})
    write_csv(frame, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text() == csv_text(frame) == "series,p_up\n'=A1,-0.25\n"


def to_csv_calls(path) -> list[int]:
    """Lines of ``path`` that call ``.to_csv(`` (CSV written past the one safe writer)."""
    tree = ast.parse(path.read_text())
    return [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
            and n.func.attr == "to_csv"]


def test_every_csv_the_studio_writes_goes_through_the_safe_writer():
    files = [ROOT / "app.py", *[p for folder in ("kronos_studio", "app_support", "pages", "data_sources", "kronos")
                                for p in sorted((ROOT / folder).rglob("*.py")) if "assets" not in p.parts]]
    bad = [f"{p.relative_to(ROOT)}:{line}" for p in files if p.relative_to(ROOT).as_posix() != EXPORTS
           for line in to_csv_calls(p)]
    assert not bad, "write CSV with kronos_studio.desk.exports (csv_text, write_csv):\n" + "\n".join(bad)


def test_the_guard_finds_a_to_csv_call(tmp_path):
    path = tmp_path / "page.py"
    path.write_text("x = 1\nst.download_button('CSV', lambda: view.to_csv(index=False))\n")
    assert to_csv_calls(path) == [2]


def test_a_formula_symbol_kept_in_the_ledger_comes_back_escaped_in_its_csv(tmp_path):
    """What the Track record page's "Table CSV" writes of the ledger's rows (``csv_text(view)``; the guard above
    keeps it so): the symbol is kept as it was given, and escaped in the CSV."""
    from kronos_studio.ledger import Ledger

    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    with Ledger.open(url) as ledger:
        recorded = record_one(ledger, "=cmd|' /C calc'!A0")
        table = ledger.predictions_frame()
    assert table["symbol"].tolist() == ["=cmd|' /C calc'!A0"] and recorded
    text = csv_text(table[["prediction_id", "symbol", "horizon"]])
    assert "\n" + str(table["prediction_id"].iloc[0]) + ",'=cmd|' /C calc'!A0," in text


def record_one(ledger, symbol: str) -> bool:
    """Record one random-walk forecast of bars named ``symbol`` (what the app does for a series so named)."""
    from testkit import random_bars

    from data_sources.schema import Bars
    from kronos.settings import ForecastSettings
    from kronos_studio.catalog import resolve
    from kronos_studio.forecasters import make_forecast

    bars = Bars.from_frame(random_bars(80, freq="1h"), source="file", symbol=symbol, interval="1h")
    fc = make_forecast(resolve("random_walk"), bars, ForecastSettings(horizon=2, paths=4))
    return ledger.record(fc, bars).new


def test_a_parquet_download_is_the_frame_without_its_index():
    from kronos_studio.desk.exports import parquet_bytes

    frame = pd.DataFrame({"series": ["=A", "B"], "p_up": [0.25, 0.75]}, index=[7, 9])
    back = pd.read_parquet(io.BytesIO(parquet_bytes(frame)))
    pd.testing.assert_frame_equal(back, frame.reset_index(drop=True))
