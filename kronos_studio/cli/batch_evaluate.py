"""``kronos batch WATCHLIST --evaluate``: does the screener's ranking work on this watchlist? The
cross-sectional walk-forward (``kronos_studio.batch.rank_run``): IC, rank IC, Newey–West intervals,
spreads after costs, naive rankings, one score per path count; a table on stdout, the JSON and the panel."""
from __future__ import annotations

import argparse
import sys

from kronos.settings import knob_values, knobs
from kronos_studio.desk import Engine, LookAheadError, RankPlan, RankRequest
from kronos_studio.desk.rank_tables import rank_words

from .common import CliError, add_knob_options, cli_device, error_line, sampling_settings
from .errors import notice_line
from .models import cli_desk, desk_call
from .tables import printed


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
    """The report for a terminal, worded by the desk (``desk.rank_tables``): what was scored, the guard's warning,
    the series left out, the signals x statistics table, the verdicts against the naive rankings, the throughput."""
    words = rank_words(report)
    return printed([words.table], (*words.said, *(f"warning: {w}" for w in words.warnings), *words.left_out),
                   (*words.verdicts, words.throughput))
