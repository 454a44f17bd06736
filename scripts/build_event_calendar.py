"""Write kronos_studio/assets/events/us_macro_calendar.csv from the compact date lists below (see SOURCES.md).

Times are US Eastern wall-clock (America/New_York). ``basis`` says how each date was obtained:
* ``schedule``: the date as published in the agency's release schedule, compiled from memory
  without network access (not re-checked against the agency pages in this build);
* ``rule``: reconstructed from the agency's stated scheduling rule (not copied from a schedule);
* ``schedule-uncertain``: recalled from a published schedule with lower confidence.
Actual and consensus values are left empty: no reliable offline source (surprise channels are 0).
Run: python scripts/build_event_calendar.py
"""
from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "kronos_studio" / "assets" / "events" / "us_macro_calendar.csv"

FOMC = {  # statement release (second meeting day), 14:00 ET; federalreserve.gov FOMC calendars
    2022: "01-26 03-16 05-04 06-15 07-27 09-21 11-02 12-14",
    2023: "02-01 03-22 05-03 06-14 07-26 09-20 11-01 12-13",
    2024: "01-31 03-20 05-01 06-12 07-31 09-18 11-07 12-18",
    2025: "01-29 03-19 05-07 06-18 07-30 09-17 10-29 12-10",
    2026: "01-28 03-18 04-29 06-17 07-29 09-16 10-28 12-09",
}
CPI = {  # BLS Consumer Price Index, 08:30 ET; each date releases the previous month's index
    2022: "01-12 02-10 03-10 04-12 05-11 06-10 07-13 08-10 09-13 10-13 11-10 12-13",
    2023: "01-12 02-14 03-14 04-12 05-10 06-13 07-12 08-10 09-13 10-12 11-14 12-12",
    2024: "01-11 02-13 03-12 04-10 05-15 06-12 07-11 08-14 09-11 10-10 11-13 12-11",
    # 2025: the Sep-2025 index came out on 10-24 after the federal shutdown; Oct-2025 was not published;
    # Nov-2025 came out 12-18.
    2025: "01-15 02-12 03-12 04-10 05-13 06-11 07-15 08-12 09-11 10-24 12-18",
}
CPI_2026_UNCERTAIN = "01-13 02-11 03-11 04-10 05-12 06-10 07-14 08-12 09-11 10-14 11-10 12-10"
NFP = {  # BLS Employment Situation, 08:30 ET
    2022: "01-07 02-04 03-04 04-01 05-06 06-03 07-08 08-05 09-02 10-07 11-04 12-02",
    2023: "01-06 02-03 03-10 04-07 05-05 06-02 07-07 08-04 09-01 10-06 11-03 12-08",
    2024: "01-05 02-02 03-08 04-05 05-03 06-07 07-05 08-02 09-06 10-04 11-01 12-06",
    # 2025: the Sep-2025 report came out 11-20 after the shutdown; Oct and Nov together on 12-16.
    2025: "01-10 02-07 03-07 04-04 05-02 06-06 07-03 08-01 09-05 11-20 12-16",
}
NFP_2026_FIRST = "01-09"  # Dec-2025 report (schedule); the rest of 2026 from the BLS rule below
GDP = {  # BEA GDP advance estimate, 08:30 ET
    2022: "01-27 04-28 07-28 10-27",
    2023: "01-26 04-27 07-27 10-26",
    2024: "01-25 04-25 07-25 10-30",
    2025: "01-30 04-30 07-30 12-23",  # 12-23: the delayed initial estimate for 2025Q3
}
PCE = {  # BEA Personal Income and Outlays (PCE price index), 08:30 ET
    2022: "01-28 02-25 03-31 04-29 05-27 06-30 07-29 08-26 09-30 10-28 12-01 12-23",
    2023: "01-27 02-24 03-31 04-28 05-26 06-30 07-28 08-31 09-29 10-27 11-30 12-22",
    2024: "01-26 02-29 03-29 04-26 05-31 06-28 07-26 08-30 09-27 10-31 11-27 12-20",
    2025: "01-31 02-28 03-28 04-30 05-30 06-27 07-31 08-29 09-26 12-05",
}
FEDERAL_HOLIDAYS_2026 = {date(2026, 7, 3), date(2026, 9, 7), date(2026, 11, 26), date(2026, 12, 25)}


def nfp_by_rule(year: int, month: int) -> date:
    """BLS rule: the third Friday after the end of the reference week (the Sunday-Saturday week that
    holds the 12th) of the previous month; a Friday holiday moves the release to Thursday."""
    ref_year, ref_month = (year, month - 1) if month > 1 else (year - 1, 12)
    twelfth = date(ref_year, ref_month, 12)
    saturday = twelfth + timedelta(days=(5 - twelfth.weekday()) % 7)
    release = saturday + timedelta(days=6 + 14)
    if release in FEDERAL_HOLIDAYS_2026:
        release -= timedelta(days=1)
    return release


def rows():
    def add(kind, table, time, event, basis="schedule"):
        for year, days in table.items():
            for md in days.split():
                yield [f"{year}-{md} {time}", kind, event, "", "", basis]

    yield from add("fomc", FOMC, "14:00", "FOMC rate decision (statement)")
    yield from add("cpi", CPI, "08:30", "CPI")
    yield from add("cpi", {2026: CPI_2026_UNCERTAIN}, "08:30", "CPI", "schedule-uncertain")
    yield from add("nfp", NFP, "08:30", "Employment Situation (nonfarm payrolls)")
    yield from add("nfp", {2026: NFP_2026_FIRST}, "08:30", "Employment Situation (nonfarm payrolls)")
    for month in range(2, 13):
        yield [f"{nfp_by_rule(2026, month)} 08:30", "nfp", "Employment Situation (nonfarm payrolls)", "", "", "rule"]
    yield from add("gdp", GDP, "08:30", "GDP advance estimate")
    yield from add("pce", PCE, "08:30", "Personal Income and Outlays (PCE prices)")


def main() -> None:
    data = sorted(rows())
    with OUT.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["datetime", "type", "event", "actual", "consensus", "basis"])
        w.writerows(data)
    print(f"wrote {len(data)} events to {OUT}")


if __name__ == "__main__":
    main()
