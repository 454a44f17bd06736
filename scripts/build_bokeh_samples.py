"""Rebuild the bundled daily CSVs from bokeh_sampledata (public-domain Quandl WIKI prices).

Run: python scripts/build_bokeh_samples.py   (needs the bokeh_sampledata package)
"""

from pathlib import Path

from bokeh_sampledata import stocks

HERE = Path(__file__).resolve().parents[1] / "data_sources" / "sample_data"

for ticker in ("AAPL", "MSFT", "IBM", "GOOG"):
    df = stocks.data[stocks.data["ticker"] == ticker]
    df = df[["date", "open", "high", "low", "close", "volume", "adj_close"]].sort_values("date")
    df.to_csv(HERE / f"{ticker}_1d_bokeh.csv", index=False, date_format="%Y-%m-%d", float_format="%.6g")
    print(ticker, len(df), df["date"].min().date(), df["date"].max().date())
