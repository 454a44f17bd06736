"""``kronos batch --evaluate`` end to end, as the CLI, the app and the service run it: a watchlist's bars
loaded and gated as a batch loads them, the cross-sectional walk-forward (``cross_section``), its
statistics (``kronos_studio.evaluation.rank_skill``) and one JSON-ready report with the panel."""
from __future__ import annotations

import json
from dataclasses import dataclass

from data_sources.sources import SAMPLE_PICKER, SOURCES
from data_sources.storage import atomic_write
from kronos.errors import finite_or_null
from kronos.settings import ForecastSettings
from kronos_studio.evaluation.rank_skill import rank_report

from .cross_section import Progress, RankPanel, RankPlan, cross_section
from .watchlist import Entry, load_entries


@dataclass
class RankResult:
    panel: RankPanel
    report: dict  # rank_skill.rank_report, plus what was left out and the run's settings
    failed: dict[str, str]  # series that could not be loaded or passed the gate -> the one-line reason

    def to_json(self) -> dict:
        """The report with the per-(path count, date, series) panel, so anyone can recompute the ICs."""
        records = self.panel.panel.assign(date=self.panel.panel["date"].astype(str),
                                          cutoff_time=self.panel.panel["cutoff_time"].astype(str))
        return {**self.report, "panel": [finite_or_null(r) for r in records.to_dict("records")]}

    def write_json(self, path) -> None:
        text = json.dumps(self.to_json(), indent=1, allow_nan=False)
        atomic_write(path, lambda tmp: open(tmp, "w").write(text))

    def write_panel(self, path) -> None:
        atomic_write(path, lambda tmp: self.panel.panel.to_parquet(tmp, index=False))


def load_series(entries: list[Entry], lookback: int, window: int, load: dict) -> tuple[dict, dict[str, str]]:
    """The watchlist's bars by series name, through the data-quality gate as ``kronos batch`` reads them
    (``load``: its ``fixes`` and ``calendar``), and the series that have none, with their reason. A source
    returns only the bars asked for, so each entry asks for what it needs (``history_wanted``)."""
    series, failed = {}, {}
    fixes, calendar = tuple(load.get("fixes", ())), load.get("calendar")
    groups: dict[int, list[Entry]] = {}
    for e in entries:
        groups.setdefault(history_wanted(e, lookback, window), []).append(e)
    for history, group in groups.items():
        for loaded in load_entries(group, history, None, fixes, calendar):
            if loaded.error is not None:
                failed[loaded.entry.series] = loaded.error
            else:
                series[loaded.entry.series] = loaded.bars
    order = [e.series for e in entries]
    return {s: series[s] for s in order if s in series}, {s: failed[s] for s in order if s in failed}


def history_wanted(entry: Entry, lookback: int, window: int) -> int:
    """Bars to ask for: a file is read whole (gated for ``lookback`` bars); a bundled sample whole too (its
    bars are on this machine, and samples end on different dates, so a tail of each could miss the dates
    they share); a fetched series the ``window`` the cut-offs span back from now."""
    if entry.file is not None:
        return lookback
    if SOURCES[entry.source].input == SAMPLE_PICKER:
        from data_sources import load_sample

        try:
            return max(lookback, len(load_sample(entry.symbol)))
        except Exception:  # an unknown sample: load_entry says why in its row
            return lookback
    return window


def evaluate_watchlist(forecaster, entries: list[Entry], settings: ForecastSettings, plan: RankPlan,
                       load: dict | None = None, progress: Progress | None = None) -> RankResult:
    """Does the ranking of ``forecaster`` work on this watchlist? ``load``: ``fixes`` and ``calendar`` for
    reading the bars, as ``run_batch`` takes them."""
    load = dict(load or {})
    lookback = settings.lookback or forecaster.lookback(settings.horizon)
    step = plan.step or settings.horizon
    window = lookback + step * plan.cutoffs + 2 * settings.horizon  # history, the cut-offs, momentum, forward
    series, failed = load_series(entries, lookback, window, load)
    panel = cross_section(forecaster, series, settings, plan, progress)
    report = rank_report(panel.panel, panel.horizon, panel.step, plan.costs_bps, panel.overlap)
    report = {"model": forecaster.describe().get("model", forecaster.name), "horizon": panel.horizon,
              "step": panel.step, "lookback": panel.lookback, "seed": settings.seed,
              "dates": panel.dates, "series": int(panel.panel["series"].nunique()),
              "dates_requested": panel.dates_requested, "forward_overlap": panel.overlap, "dates_left_out": panel.left_out,
              "series_ending_early": panel.ending_early, "series_unused": panel.unused,
              "series_failed": failed, "guard": panel.guard, "elapsed_s": panel.elapsed_s,
              "forecasts": panel.forecasts, **report}
    return RankResult(panel, finite_or_null(report), failed)
