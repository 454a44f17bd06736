"""``kronos watch``: the learning loop over a watchlist (``kronos_studio.desk.watch``), live at each bar close, one
tick (``--once``, for cron or a systemd timer), or replayed over past days (``--replay-from``)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from kronos_studio.desk import (
    INCLUDE_TRAINING_PERIOD,
    READING,
    AlertChannels,
    AlertRules,
    Desk,
    Engine,
    Replay,
    RetrainPolicy,
    ScreenRequest,
    WatchRequest,
)
from kronos_studio.desk.watch import watch_request_of

from .commands import add_command
from .common import (
    EXIT_LOCKED,
    CliError,
    add_knob_options,
    add_sampling_options,
    add_threads_option,
    positive,
    sampling_settings,
)
from .errors import notice_line
from .ledger import open_ledger
from .models import process_desk

EXIT_TICK_FAILED = 1  # a tick stopped on an error (kept as failed: it runs again at the next start)


def register(sub) -> None:
    p = add_command(sub, "watch",
                    description="Run the learning loop over a watchlist: at each tick, read or fetch the new bars, "
                                "score every recorded forecast whose bars arrived, forecast each series (its champion or "
                                "--model) through kronos batch's engine and record it, judge drift and the VaR exceptions "
                                "of the forecasts whose horizon arrived, run the gated retrain where due, and alert. Live "
                                "it ticks at each series' bar close on its exchange calendar; --once runs one tick (for "
                                "cron); --replay-from runs the same loop over past days on a simulated clock, its rows "
                                "labelled and kept apart from the live ones. A tick runs once: run again, or killed and "
                                f"started again, it records nothing twice. Exit codes: 0 done, {EXIT_TICK_FAILED} a tick "
                                f"failed (it runs again at the next start), 2 bad input, {EXIT_LOCKED} another process "
                                "runs the tick now.")
    p.add_argument("watchlist", nargs="?", help="a folder of CSV/Parquet bar files (each series read from its newest "
                                                "file) or a CSV with columns source,symbol,interval[,exchange]")
    p.add_argument("--name", default=None, help="the watch's name (default: the watchlist's; a replay's: with its dates)")
    p.add_argument("--model", default=None, help="the model (default: the bundled one; 'champion': each series' own "
                                                 "champion; 'ensemble')")
    add_sampling_options(p, "history bars each series is forecast from (default: the model's context minus the horizon)")
    when = p.add_argument_group("when it ticks")
    when.add_argument("--once", action="store_true", help="run the tick of the latest bar close and stop")
    add_knob_options(when, Replay)  # --replay-from, --to, --replay-name
    add_knob_options(when, WatchRequest, (INCLUDE_TRAINING_PERIOD,))
    learning = p.add_argument_group("learning")
    add_knob_options(learning, WatchRequest, ("learn",))
    add_knob_options(learning, RetrainPolicy)
    add_knob_options(p.add_argument_group("alert rules"), AlertRules)
    add_knob_options(p.add_argument_group("alert channels (no secret is logged or kept: the SMTP password is read "
                                          "from --smtp-password-env's variable, a webhook's URL shown by its host)"),
                     AlertChannels)
    add_knob_options(p.add_argument_group("where a tick's forecasts run"), Engine)  # as kronos batch's
    add_knob_options(p, ScreenRequest, READING)  # how every series is read (--fix, --calendar), as kronos batch's
    p.add_argument("--json", default=None, metavar="OUT", help="write what every tick did as JSON")
    p.add_argument("--quiet", action="store_true", help="one line at the end, not one per tick")
    add_threads_option(p)
    p.set_defaults(func=run_watch)
    w = add_command(sub, "watches", description="The watches kept in the ledger (kronos watch, the service's): list "
                                                "them, show one's last ticks and alerts, pause, resume or delete one.")
    w.add_argument("action", nargs="?", choices=["list", "show", "pause", "resume", "delete"], default="list")
    w.add_argument("watch", nargs="?", help="the watch's name or id (show, pause, resume, delete)")
    w.add_argument("--workspace", default=None, metavar="W", help="another workspace's watches (default: default)")
    w.add_argument("--ticks", type=positive(int), default=10, help="show: how many of the last ticks (default 10)")
    w.set_defaults(func=run_watches)


def watch_request(args):
    """The ``WatchRequest`` the options ask for."""
    if (args.replay_from or args.replay_name) and args.once:
        raise CliError("--once runs one live tick; --replay-from replays past days: give one of them")
    path = Path(args.watchlist)
    entries = Desk.watchlist(path, newest=True)
    name = args.name or path.stem
    if args.replay_from:
        name = args.name or f"{path.stem} {args.replay_from} to {args.to or 'end'}"
    return watch_request_of(args, name=name, entries=tuple(entries), settings=sampling_settings(args),
                            model=args.model, watchlist=str(path.resolve()))


def tick_line(tick) -> str:
    """One tick in one line: when, what it did per series, the alerts."""
    when = f"{tick.tick_at:%Y-%m-%d %H:%M} UTC"
    if tick.status in ("already", "busy"):
        return f"{when}: {'done before' if tick.status == 'already' else 'another process runs it now'}"
    parts = []
    for s in tick.series:
        said = s.status if s.status in ("forecast", "kept") else f"{s.status}: {s.message}"
        extra = [f"{s.scored_steps} step{'s' if s.scored_steps != 1 else ''} scored"] if s.scored_steps else []
        if s.drift == "drifting":
            extra.append(s.drift)
        if s.retrain:
            extra.append(f"retrain {s.retrain}")
        parts.append(f"{s.series} {said}" + (f" ({', '.join(extra)})" if extra else ""))
    alerts = f"; {len(tick.alerts)} alert{'s' if len(tick.alerts) != 1 else ''}" if tick.alerts else ""
    failed = f"; FAILED: {tick.error}" if tick.status == "failed" else ""
    return f"{when}: {'; '.join(parts)}{alerts}{failed}"


def run_watch(args) -> int:
    if not args.watchlist:
        raise CliError("give a WATCHLIST: a folder of bar files or a CSV with columns source,symbol,interval")
    request = watch_request(args)
    ledger = open_ledger()

    def said(i, n, tick):
        if not args.quiet:
            print(f"[{i}/{n or '…'}] {tick_line(tick)}", file=sys.stderr, flush=True)
            for notice in tick.notices:
                print(notice_line(notice), file=sys.stderr)

    try:
        done = process_desk().watch(request, ledger, once=args.once, progress=said)
    finally:
        ledger.close()
    for notice in done.notices:
        print(notice_line(notice), file=sys.stderr)
    run = done.run()
    label = f" (rows labelled '{done.replay}')" if done.replay else ""
    sent = "" if request.channels.channels() or not run.alerts else " (no webhook or e-mail given: none sent)"
    print(f"watch '{request.name}'{label}: {run.ticks} ticks, {run.ran} run now ({run.skipped} done before or "
          f"running elsewhere): {run.forecasts} forecasts recorded, {run.scored} steps scored, {run.alerts} alerts "
          f"raised{sent}", file=sys.stderr)
    if args.json:
        body = {"watch": request.name, "replay": done.replay or None, "ticks": [t.to_json() for t in done.ticks]}
        try:
            Path(args.json).write_text(json.dumps(body, indent=2, default=str))
        except OSError as e:
            raise CliError(f"cannot write '{args.json}': {e.strerror or e}") from None
    return EXIT_TICK_FAILED if run.failed else EXIT_LOCKED if run.busy else 0


def run_watches(args) -> int:
    """``kronos watches``: list, show, pause, resume, delete (``kronos_studio.desk.watches``)."""
    from kronos_studio.desk import watches

    ledger, workspace = open_ledger(), args.workspace
    try:
        if args.action == "list":
            found = watches.list_watches(ledger, workspace=workspace)
            if not found:
                print("no watches in the ledger", file=sys.stderr)
            for w in found:
                when = f"last tick {w.last.tick_at:%Y-%m-%d %H:%M} UTC {w.last.status}" if w.last else "no tick yet"
                label = f"  replay '{w.watch.replay}'" if w.watch.replay else ""
                print(f"{w.watch.id}  {w.watch.name}  {w.watch.status}{label}  {len(w.series)} series  {when}")
        elif args.action == "show":
            w = watches.show_watch(ledger, args.watch, ticks=args.ticks, workspace=workspace)
            print(json.dumps({**w.watch.to_dict(), "request": w.request(), "ticks": [t.to_dict() for t in w.ticks],
                              "alerts": [a.to_dict() for a in w.alerts]}, indent=2, default=str))
        elif args.action == "delete":
            watches.delete_watch(ledger, args.watch, workspace=workspace)
            print(f"deleted watch {args.watch} (its forecasts stay in the ledger)", file=sys.stderr)
        else:
            w = watches.set_paused(ledger, args.watch, args.action == "pause", workspace=workspace)
            print(f"watch {w.name}: {w.status}", file=sys.stderr)
    finally:
        ledger.close()
    return 0
