"""The Watch page's tables (``pages/watch.py`` draws them): the workspace's watches (``kronos watch``, ``POST
/v1/watches``) with their last ticks, what each tick did per series, and the alerts sent or failed. Read from the
ledger's watch book; nothing here runs a watch."""
from __future__ import annotations

from kronos.lazy import pd
from kronos_studio.desk.ledger import counted, replay_notices, replays
from kronos_studio.desk.watches import list_watches

WATCH_COLUMNS = ["watch", "status", "kind", "series", "model", "horizon", "ticks", "last tick (UTC)", "last status",
                 "alerts sent", "alerts failed"]
TICK_COLUMNS = ["tick (UTC)", "status", "attempt", "series", "what it did", "steps scored", "drift", "VaR (long)",
                "retrain", "alerts"]
ALERT_COLUMNS = ["tick (UTC)", "rule", "series", "status", "attempts", "channel", "to", "message", "last error",
                 "sent at (UTC)"]


def _when(value) -> str:
    return "–" if value is None else pd.Timestamp(value).strftime("%Y-%m-%d %H:%M")


def watches_table(ledger) -> pd.DataFrame:
    """One row per watch of the workspace (``desk.watches.list_watches``): its name, active or paused, live or its
    replay's label, its series and model, how many ticks ran, the last one, and its alerts."""
    rows = [{"watch": w.watch.name, "status": w.watch.status,
             "kind": f"replay '{w.watch.replay}'" if w.watch.replay else "live", "series": len(w.series),
             "model": w.model or "bundled", "horizon": w.horizon, "ticks": w.tick_count,
             "last tick (UTC)": _when(w.last.tick_at) if w.last else "–",
             "last status": w.last.status if w.last else "no tick yet", "alerts sent": w.alerts_sent,
             "alerts failed": w.alerts_failed} for w in list_watches(ledger)]
    return pd.DataFrame(rows, columns=WATCH_COLUMNS)


def ticks_table(shown) -> pd.DataFrame:
    """One row per (tick, series) of a watch's ticks shown (``desk.watches.show_watch``), newest first: what the
    tick did to the series."""
    rows = []
    for t in shown.ticks:
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


def alerts_table(shown) -> pd.DataFrame:
    """Every alert of a watch shown, newest first: the tick that raised it (a replay's: its simulated clock), its
    rule, series and words, where it went (no secret: a webhook by its host), sent or failed after how many attempts
    and why, and when it was sent."""
    rows = [{"tick (UTC)": _when(shown.alert_ticks.get(a.tick_id)), "rule": a.rule.replace("_", " "),
             "series": a.series or "–", "status": a.status, "attempts": a.attempts, "channel": a.channel,
             "to": a.target, "message": a.message, "last error": a.last_error or "–",
             "sent at (UTC)": _when(a.sent_at) if a.sent_at else "–"} for a in reversed(shown.alerts)]
    return pd.DataFrame(rows, columns=ALERT_COLUMNS)


def watch_caption(shown) -> str:
    """One line on a watch shown: its series, what it forecasts with, how often it ran."""
    request, names = shown.watch.request, shown.series
    kind = f"replay of {request['replay']['start']} to {request['replay'].get('end') or 'the end of the bars'}" \
        if request.get("replay") else "live, at each bar close"
    return (f"{kind}: {', '.join(names[:8])}{f' and {len(names) - 8} more' if len(names) > 8 else ''}; "
            f"{counted(shown.ticks_done, 'tick')} done of {shown.tick_count}; made by {shown.watch.made_by}")


def replay_warnings(watch) -> list[str]:
    """What a replay's views say first (its ticks inside the base model's training period)."""
    return [n.problem for n in replay_notices(watch.replay)]


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
