"""The Watch page's tables (``pages/watch.py`` draws them): the workspace's watches (``kronos watch``, ``POST
/v1/watches``) with their last ticks, what each tick did per series, and the alerts sent or failed. Read from the
ledger's watch book; nothing here runs a watch."""
from __future__ import annotations

from kronos.lazy import pd
from kronos_studio.desk.ledger import ACTIVE, PAUSED, WatchBook, counted, replay_notices, replays

WATCH_COLUMNS = ["watch", "status", "kind", "series", "model", "horizon", "ticks", "last tick (UTC)", "last status",
                 "alerts sent", "alerts failed"]
TICK_COLUMNS = ["tick (UTC)", "status", "attempt", "series", "what it did", "steps scored", "drift", "VaR (long)",
                "retrain", "alerts"]
ALERT_COLUMNS = ["tick (UTC)", "rule", "series", "status", "attempts", "channel", "to", "message", "last error",
                 "sent at (UTC)"]


def _when(value) -> str:
    return "–" if value is None else pd.Timestamp(value).strftime("%Y-%m-%d %H:%M")


def watches_table(book) -> pd.DataFrame:
    """One row per watch of the workspace: its name, active or paused, live or its replay's label, its series and
    model, how many ticks ran, the last one, and its alerts."""
    rows = []
    for w in book.list():
        ticks = book.ticks(w.id)
        alerts = book.alerts(w.id)
        request = w.request
        rows.append({
            "watch": w.name, "status": w.status, "kind": f"replay '{w.replay}'" if w.replay else "live",
            "series": len(request.get("entries", [])), "model": request.get("model") or "bundled",
            "horizon": (request.get("settings") or {}).get("horizon"), "ticks": len(ticks),
            "last tick (UTC)": _when(ticks[0].tick_at) if ticks else "–",
            "last status": ticks[0].status if ticks else "no tick yet",
            "alerts sent": sum(a.status == "sent" for a in alerts),
            "alerts failed": sum(a.status == "failed" for a in alerts)})
    return pd.DataFrame(rows, columns=WATCH_COLUMNS)


def ticks_table(book, watch, last: int = 30) -> pd.DataFrame:
    """One row per (tick, series) of the watch's ``last`` ticks, newest first: what the tick did to the series."""
    rows = []
    for t in book.ticks(watch.id, last):
        summary = t.summary or {}
        series = summary.get("series") or {}
        alerts = len(summary.get("alerts") or [])
        for name, s in (series.items() or [(None, {})]):
            said = s.get("status") or t.status
            if s.get("message"):
                said = f"{said}: {s['message']}"
            rows.append({"tick (UTC)": _when(t.tick_at), "status": t.status if not t.error else f"{t.status}: {t.error}",
                         "attempt": t.attempts, "series": name or "–", "what it did": said,
                         "steps scored": s.get("scored_steps", 0), "drift": s.get("drift") or "–",
                         "VaR (long)": float("nan") if s.get("var") is None else s["var"],
                         "retrain": s.get("retrain") or "–", "alerts": alerts})
    return pd.DataFrame(rows, columns=TICK_COLUMNS)


def alerts_table(book, watch) -> pd.DataFrame:
    """Every alert of the watch, newest first: the tick that raised it (a replay's: its simulated clock), its rule,
    series and words, where it went (no secret: a webhook by its host), sent or failed after how many attempts and
    why, and when it was sent."""
    ticks = {t.id: t.tick_at for t in book.ticks(watch.id)}
    rows = [{"tick (UTC)": _when(ticks.get(a.tick_id)), "rule": a.rule.replace("_", " "), "series": a.series or "–",
             "status": a.status, "attempts": a.attempts, "channel": a.channel, "to": a.target, "message": a.message,
             "last error": a.last_error or "–", "sent at (UTC)": _when(a.sent_at) if a.sent_at else "–"}
            for a in reversed(book.alerts(watch.id))]
    return pd.DataFrame(rows, columns=ALERT_COLUMNS)


def watch_caption(watch, book) -> str:
    """One line on a watch: its series, what it forecasts with, how often it ran."""
    request = watch.request
    names = ", ".join(e.get("series", "?") for e in request.get("entries", [])[:8])
    more = len(request.get("entries", [])) - 8
    ticks = book.ticks(watch.id)
    done = sum(t.status == "done" for t in ticks)
    kind = f"replay of {request['replay']['start']} to {request['replay'].get('end') or 'the end of the bars'}" \
        if request.get("replay") else "live, at each bar close"
    return (f"{kind}: {names}{f' and {more} more' if more > 0 else ''}; {counted(done, 'tick')} done of "
            f"{len(ticks)}; made by {watch.made_by}")


def watch_book():
    """The watches of this session's workspace (``ledger.ledger``), None when the ledger is unavailable."""
    from . import ledger

    book = ledger.ledger()
    return None if book is None else WatchBook(book)


def replay_warnings(watch) -> list[str]:
    """What a replay's views say first (its ticks inside the base model's training period)."""
    return [n.problem for n in replay_notices(watch.replay)]


def toggled(book, watch):
    """The watch paused, or resumed when paused."""
    return book.set_status(watch.id, ACTIVE if watch.status == PAUSED else PAUSED)


LIVE_ROWS = "live forecasts"


def replay_labels(book) -> list[str]:
    """The replays kept in ``book``'s workspace (their labels, newest first): what a view may show instead of the
    live rows."""
    return list(book.read(lambda conn: replays(conn, book.workspace))["replay"])


def rows_of(book, shown: str):
    """``book`` reading the rows ``shown`` names (``LIVE_ROWS`` or a replay's label), and what to say first."""
    if shown == LIVE_ROWS:
        return book, []
    return book.replaying(shown), [n.problem for n in replay_notices(shown)]
