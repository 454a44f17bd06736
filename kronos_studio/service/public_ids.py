"""The ids a client sees, which tell it nothing of other workspaces: the ledger numbers forecasts and adapters with
counters shared by every workspace, so a workspace differencing its own ids would learn how many others made.

* A forecast's public id is the start of its ``forecast_key`` (a hash of what makes it, its sampled paths among
  them, and of its workspace): opaque, stable, the same from every server of one ledger, and found again by it.
* An adapter's public id is its number in its workspace's registry (1, 2, ... oldest first): registry entries are
  never deleted, so a number always names the same entry, and it counts only the workspace's own.

Every id an answer holds goes through here (fields and the words of notes and errors: "champion adapter 3"), and
every id a request names comes back through here (404 when the workspace has none such)."""
from __future__ import annotations

import dataclasses
import hashlib
import re
from contextlib import contextmanager

from kronos.errors import UserError
from kronos.lazy import pd

from .errors import ServiceError

FORECAST_ID_CHARS = 16  # hex characters of a forecast's public id: 64 bits, no two of one workspace alike
FORECAST_ID = re.compile(f"[0-9a-f]{{{FORECAST_ID_CHARS}}}")
PREDICTION_COLUMNS = ("prediction_id", "parent_id")  # a forecast's ledger tables' forecast ids
ADAPTER_WORDS = re.compile(r"\b(adapters? )(\d+)\b")  # how the library's words name a registry entry


def forecast_ids(ledger, ids) -> dict[int, str]:
    """ledger id -> public id of the forecasts ``ids`` (the ledger: the workspace's view)."""
    from sqlalchemy import select

    from kronos_studio.desk.ledger import predictions

    wanted = sorted({int(i) for i in ids if not pd.isna(i)})
    out: dict[int, str] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        rows = ledger.read(lambda conn, chunk=chunk: conn.execute(
            select(predictions.c.id, predictions.c.forecast_key).where(predictions.c.id.in_(chunk))).all())
        out.update({row.id: row.forecast_key[:FORECAST_ID_CHARS] for row in rows})
    return out


def forecast_row(ledger, public: str) -> int:
    """The ledger id of the workspace's forecast ``public`` (404 when it has none such: another workspace's is not
    said to exist)."""
    from sqlalchemy import select

    from kronos_studio.desk.ledger import DEFAULT_WORKSPACE, predictions

    workspace = ledger.workspace or DEFAULT_WORKSPACE
    if FORECAST_ID.fullmatch(public):
        p = predictions.c
        rows = ledger.read(lambda conn: conn.execute(select(p.id).where(
            p.forecast_key >= public, p.forecast_key < public + "g", p.workspace == workspace).limit(2)).all())
        if len(rows) == 1:
            return rows[0].id
    raise ServiceError(404, f"no forecast '{public}' in workspace '{workspace}': GET /v1/ledger/predictions lists "
                            "them")


def forecast_frame(frame, ledger):
    """A ledger table (predictions, evaluations, exceptions) with its forecast ids public."""
    columns = [c for c in PREDICTION_COLUMNS if c in frame.columns]
    if not columns or frame.empty:
        return frame.astype({c: object for c in columns})

    public = forecast_ids(ledger, {int(i) for c in columns for i in frame[c].dropna()})
    out = frame.copy()
    for c in columns:
        out[c] = [None if pd.isna(v) else public.get(int(v)) for v in frame[c].astype(object)]
    return out


def forecast_records(records: list[dict], ledger) -> list[dict]:
    """JSON records of a ledger table with their forecast ids public."""
    public = forecast_ids(ledger, {r[c] for r in records for c in PREDICTION_COLUMNS if r.get(c) is not None})
    return [{**r, **{c: public.get(r[c]) for c in PREDICTION_COLUMNS if r.get(c) is not None}} for r in records]


class AdapterNumbers:
    """The workspace's registry entries by number (1 = its oldest), read once when first asked."""

    def __init__(self, ledger):
        self.ledger = ledger
        self._ids: list[int] | None = None

    @property
    def ids(self) -> list[int]:
        if self._ids is None:
            from kronos_studio.desk.ledger import Registry

            self._ids = [e.id for e in Registry(self.ledger).entries()]
        return self._ids

    def number(self, entry_id):
        """The public number of registry id ``entry_id`` (None stays None; another workspace's: None)."""
        if entry_id is None:
            return None
        try:
            return self.ids.index(int(entry_id)) + 1
        except ValueError:
            return None

    def entry_id(self, number: int) -> int | None:
        """The registry id of the workspace's entry ``number``; None when it has none such."""
        return self.ids[number - 1] if 1 <= number <= len(self.ids) else None

    def words(self, text):
        """``text`` with each 'adapter <registry id>' it names as 'adapter <number>'."""
        if not isinstance(text, str) or not ADAPTER_WORDS.search(text):
            return text
        return ADAPTER_WORDS.sub(lambda m: f"{m.group(1)}{self.number(m.group(2)) or '?'}", text)

    def entry(self, entry) -> dict:
        """A registry entry's dict with its ids (and its scores' challenger and champion) as numbers."""
        out = entry.to_dict()
        for key in ("id", "parent_id", "replaced_by"):
            out[key] = self.number(out.get(key))
        if isinstance(out.get("scores"), dict):
            out["scores"] = self.decision(out["scores"])
        out["reason"] = self.words(out.get("reason"))
        return out

    def event(self, event) -> dict:
        """An entry's event with its entry's number (events are listed in order: their own ids are left out)."""
        out = event.to_dict()
        out.pop("id", None)
        out["adapter_id"] = self.number(out.get("adapter_id"))
        out["reason"] = self.words(out.get("reason"))
        return out

    def decision(self, row: dict) -> dict:
        """A retrain's decision row with the challenger and champion as numbers and its words numbered alike."""
        out = {k: self.words(v) for k, v in row.items()}
        for key in ("challenger", "champion", "series_champion", "adapter_id"):
            if isinstance(row.get(key), int) and not isinstance(row.get(key), bool):
                out[key] = self.number(row[key])
        return out

    def frame(self, frame):
        """A table's ``adapter_id`` column and the adapters its words name ("champion adapter 3"), as numbers."""
        frame = frame.copy()
        if "adapter_id" in frame.columns:
            frame["adapter_id"] = pd.array([None if pd.isna(v) else self.number(v) for v in frame["adapter_id"]],
                                           dtype="Int64")
        for column in frame.columns:
            if pd.api.types.is_object_dtype(frame[column]) or pd.api.types.is_string_dtype(frame[column]):
                frame[column] = [self.words(v) for v in frame[column]]
        return frame

    def body(self, value):
        """Every 'adapter N' in the words of a JSON body, and its ``adapter_id`` fields, as numbers."""
        if isinstance(value, dict):
            return {k: (self.number(v) if k == "adapter_id" and isinstance(v, int) else self.body(v))
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self.body(v) for v in value]
        return self.words(value)


@contextmanager
def adapters_named(ledger):
    """The workspace's ``AdapterNumbers`` for the block, whose library refusals (``UserError``) name adapters by
    their numbers too ("champion adapter 3 of ... was trained on ...")."""
    numbers = AdapterNumbers(ledger)
    try:
        yield numbers
    except UserError as e:
        if ADAPTER_WORDS.search(e.worded()):
            e.problem = numbers.words(e.problem)
            e.fix = tuple(dataclasses.replace(f, text=numbers.words(f.text)) for f in e.fix)
            e.args = (e.worded(),)
        raise


FORECAST_WORDS = re.compile(r"\b(forecast )(\d+)\b")  # how a watch's words name a recorded forecast


def watch_id(watch) -> str:
    """A watch's public id: the start of a hash of its workspace and name (one watch per name in a workspace), so
    the watches' shared counter says nothing of other workspaces."""
    return hashlib.sha256(f"{watch.workspace}\0{watch.name}".encode()).hexdigest()[:FORECAST_ID_CHARS]


def watch_of(book, public: str):
    """The workspace's watch of public id ``public`` (404 when it has none such)."""
    if FORECAST_ID.fullmatch(public):
        found = [w for w in book.list() if watch_id(w) == public]
        if found:
            return found[0]
    raise ServiceError(404, f"no watch '{public}' in workspace '{book.workspace}': GET /v1/watches lists them")


class WatchIds:
    """A watch's ticks and alerts with the ids they hold public: its forecasts by their public ids, the registry's
    entries by their numbers (``AdapterNumbers``), the watch by ``watch_id``; the rows' own ids (ticks, alerts)
    and an alert's event key (which holds ledger ids) left out: a tick is named by its time."""

    def __init__(self, ledger):
        self.ledger, self.adapters = ledger, AdapterNumbers(ledger)

    def _forecasts(self, ids) -> dict[int, str]:
        return forecast_ids(self.ledger, {int(i) for i in ids if i is not None})

    def words(self, text, forecasts: dict[int, str]):
        if not isinstance(text, str):
            return text
        text = FORECAST_WORDS.sub(lambda m: f"{m.group(1)}{forecasts.get(int(m.group(2)), '?')}", text)
        return self.adapters.words(text)

    def summary(self, summary: dict | None) -> dict | None:
        """A tick's summary (``TickResult.summary``)."""
        if not summary:
            return summary
        series, alerts = summary.get("series") or {}, summary.get("alerts") or []
        forecasts = self._forecasts([s.get("forecast_id") for s in series.values()]
                                    + [int(m.group(2)) for a in alerts for m in FORECAST_WORDS.finditer(a.get("text", ""))])
        out = dict(summary)
        out["series"] = {name: {**s, "forecast_id": forecasts.get(s["forecast_id"]) if s.get("forecast_id") else None,
                                "champion": self.adapters.number(s.get("champion")),
                                "retrain": self.words(s.get("retrain"), forecasts),
                                "message": self.words(s.get("message"), forecasts)}
                         for name, s in series.items()}
        out["alerts"] = [{**{k: v for k, v in a.items() if k != "event"}, "text": self.words(a.get("text"), forecasts)}
                         for a in alerts]
        out["notices"] = [self.words(n, forecasts) for n in summary.get("notices") or []]
        return out

    def run_tick(self, body: dict) -> dict:
        """A tick a run made, as JSON (``TickResult.to_json``)."""
        return self.summary({**body, "error": self.words(body.get("error"), {})})

    def tick(self, tick) -> dict:
        """A kept tick (``ledger.watches.Tick``)."""
        out = {k: v for k, v in tick.to_dict().items() if k not in ("id", "watch_id")}
        out["summary"], out["error"] = self.summary(out.get("summary")), self.words(out.get("error"), {})
        return out

    def alerts(self, alerts: list, ticks: dict[int, str]) -> list[dict]:
        """Kept alerts (``ledger.watches.Alert``), each with its tick's time (``ticks``: tick row id -> time)."""
        forecasts = self._forecasts([int(m.group(2)) for a in alerts for m in FORECAST_WORDS.finditer(a.message)])
        out = []
        for a in alerts:
            row = {k: v for k, v in a.to_dict().items() if k not in ("id", "watch_id", "tick_id", "event")}
            row["tick_at"], row["message"] = ticks.get(a.tick_id), self.words(a.message, forecasts)
            out.append(row)
        return out
