"""``kronos batch WATCHLIST --evaluate``: does the screener's ranking work on this watchlist? The
cross-sectional walk-forward (``kronos_studio.batch.rank_run``): IC, rank IC, Newey–West intervals,
spreads after costs, naive rankings, one score per path count; a table on stdout, the JSON and the panel."""
from __future__ import annotations

import argparse
import sys

from kronos.settings import knob_values, knobs
from kronos_studio.desk import Engine, LookAheadError, RankPlan, RankRequest
from kronos_studio.desk.rank import versus_naive

from .common import CliError, add_knob_options, cli_device, error_line, sampling_settings
from .errors import notice_line
from .models import cli_desk, desk_call


def path_counts(text: str) -> tuple[int, ...]:
    """``--paths``: one count, or (with --evaluate) several, comma-separated: 1,5,10,30."""
    try:
        counts = tuple(int(x) for x in str(text).split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--paths takes a count like 30, or counts like 1,5,10 with --evaluate, "
                                         f"got '{text}'") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"--paths counts must be 1 or more, got '{text}'")
    return tuple(sorted(set(counts)))


def add_evaluate_options(p: argparse.ArgumentParser):
    """The --evaluate options, in their own group (returned): the rank plan's, one per ``RankPlan`` knob (its path
    counts are the sampling options' --paths, several with --evaluate), and where the report goes."""
    g = p.add_argument_group("does the ranking work? (--evaluate)")
    g.add_argument("--evaluate", action="store_true",
                   help="score the ranking on past cut-off dates instead of forecasting now: IC, rank IC with "
                        "Newey-West intervals, top-minus-bottom spreads after costs, against naive rankings")
    add_knob_options(g, RankPlan, tuple(name for name in knobs(RankPlan) if name != "paths"))
    switch = knobs(RankPlan)["include_trained"][1].name("include_trained")
    g.add_argument("--include-trained", dest=switch, action="store_true", help=argparse.SUPPRESS)  # its old spelling
    g.add_argument("--json", default=None, metavar="OUT", help="the report and the per-(date, series) panel as JSON")
    g.add_argument("--panel", default=None, metavar="OUT.parquet", help="the per-(date, series) panel as Parquet")
    return g


def single_paths(args) -> None:
    """Without --evaluate, --paths is one count."""
    if len(args.paths) > 1:
        raise CliError(f"--paths takes one count without --evaluate, got {','.join(map(str, args.paths))}")
    args.paths = args.paths[0]


def run_evaluate(args) -> int:
    if args.panel is not None and not str(args.panel).endswith((".parquet", ".pq")):
        raise CliError(f"--panel must be a .parquet file, got '{args.panel}'")
    settings = sampling_settings(argparse.Namespace(**{**vars(args), "paths": args.paths[-1]}))
    desk, _ = cli_desk(args)
    request = RankRequest(desk.watchlist(args.watchlist), settings, RankPlan(**knob_values(args, RankPlan)),
                          model=args.model, engine=Engine(**knob_values(args, Engine)), device=cli_device(args),
                          **knob_values(args, RankRequest))
    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(desc="cut-off dates", unit="date", file=sys.stderr, leave=False)

    def progress(done, total):
        bar.total, bar.n = total, done
        bar.refresh()

    try:  # a tqdm is falsy until it has a total
        done = desk_call(lambda: desk.rank(request, progress=progress if bar is not None else None))
    except LookAheadError as e:
        raise error_line(e) from None
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        done.write_json(args.json)
    if args.panel:
        done.write_panel(args.panel)
    print(report_text(done.report))
    for notice in done.notices:
        print(notice_line(notice), file=sys.stderr)
    return 0


def report_text(report: dict) -> str:
    """The report for a terminal: what was scored, then rank IC with its interval per signal and path count,
    the spreads, the naive rankings and whether the model's ranking beats each."""
    left = report["dates_left_out"]
    lines = [f"{report['dates']} cut-off dates x {report['series']} series, horizon {report['horizon']}, step "
             f"{report['step']}, Newey-West lag {report['nw_lag']}, costs {report['costs_bps']:g} bps per unit turnover"
             f" ({left.get('training_period', 0)} dates inside the model's training period left out)"]
    guard = report.get("guard") or {}
    if guard.get("in_training_period_included") and guard.get("in_training_period"):
        lines.append(f"warning: {guard['in_training_period']} dates are inside the model's training period "
                     f"({guard['training_period']}): their ranking partly measures memory, not forecasting")
    if report["series_ending_early"]:
        lines.append(f"series ending before the last cut-off (used where they have bars): "
                     f"{', '.join(report['series_ending_early'])}")
    lines += [f"not ranked: {name}: {why}" for name, why in report.get("series_unused", {}).items()]
    lines.append(f"{'signal':<22}{'paths':>6}{'rank IC':>9}{'95% interval':>20}{'NW t':>7}{'IC':>8}{'hit':>6}"
                 f"{'spread':>9}{'after costs':>12}{'turnover':>9}")

    def row(name, paths, s):
        lo, hi = s["rank_ic_ci95"]
        return (f"{name:<22}{paths:>6}{fmt(s['rank_ic_mean']):>9}{'(' + fmt(lo) + ' to ' + fmt(hi) + ')':>20}"
                f"{fmt(s['rank_ic_nw_t'], 2):>7}{fmt(s['ic_mean']):>8}{plain(s['hit_rate']):>6}"
                f"{fmt(s['spread_mean'], 4):>9}{fmt(s['spread_after_costs_mean'], 4):>12}{plain(s['turnover']):>9}")

    for paths, by_signal in report["signals"].items():
        lines += [row(signal, paths, s) for signal, s in by_signal.items()]
    lines += [row(f"{name} (naive)", "", s) for name, s in report["baselines"].items()]
    for name, vs, verdict in versus_naive(report):
        lo, hi = vs["rank_ic_diff_ci95"]
        lines.append(f"expected_log_return ({report['paths'][-1]} paths) vs {name}: rank IC "
                     f"{fmt(vs['rank_ic_diff_mean'])} ({fmt(lo)} to {fmt(hi)}): "
                     f"{'no interval (too few dates)' if verdict is None else verdict + ' it'}")
    lines.append(throughput(report))
    return "\n".join(lines)


def throughput(report: dict) -> str:
    """The run's speed, honestly labelled: series forecasts per minute (each path count's forecasts counted),
    and the series x cut-offs scored per minute at all the path counts asked for."""
    elapsed, forecasts, counts = report["elapsed_s"], report["forecasts"], len(report["paths"])
    per_minute = 60 / elapsed if elapsed else float("nan")
    return (f"{forecasts} forecasts ({forecasts // counts} series x cut-offs at each of {counts} path counts) in "
            f"{elapsed:.1f} s: {forecasts * per_minute:,.0f} forecasts per minute, {forecasts // counts * per_minute:,.0f} "
            f"series x cut-offs per minute at {counts} path count{'s' if counts > 1 else ''}")


def fmt(x, decimals: int = 3) -> str:
    return "n/a" if x is None else f"{x:+.{decimals}f}"


def plain(x) -> str:
    return "n/a" if x is None else f"{x:.2f}"
