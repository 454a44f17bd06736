"""What the HTTP service hands to someone on another machine (its answers, its error bodies, a job's tables): a
server's file paths replaced by their last part (a model folder's name; the weights are named beside it by their
revision hashes), so that a client learns nothing of the server's directory layout. The command line's own files
(a provenance JSON, ``kronos forecast``'s output) keep the user's local paths: they stay on that machine."""
from __future__ import annotations

import os
import re
from pathlib import PureWindowsPath

# An absolute path inside a text: '/' or 'C:\\' and at least two parts, not preceded by what would make it part
# of a word, a URL ('https://...') or a ratio ('24/7', 'BTC/USDT').
_INSIDE = re.compile(r"(?<![\w:/.~\\-])(?:/[^\s/'\"()\[\],;]+(?:/[^\s/'\"()\[\],;]*)+|[A-Za-z]:\\[^\s'\"()\[\],;]+)")


def last_part(path: str) -> str:
    """The last part of ``path`` ('/srv/models/desk-fx/' -> 'desk-fx')."""
    parts = [p for p in re.split(r"[/\\]", path) if p]
    return parts[-1] if parts else path


def on_this_machine(path: str) -> bool:
    """Whether ``path`` is a path of this machine: its top folder ('/srv', 'C:\\') exists here. A route
    ('/v1/jobs/{id}') or a symbol ('/ES/M24') is not."""
    if PureWindowsPath(path).drive:
        return os.path.isdir(PureWindowsPath(path).anchor)
    top = path.split("/")[1] if path.startswith("/") else ""
    return bool(top) and os.path.isdir("/" + top)


def text_without_paths(text: str) -> str:
    """``text`` with each path of this machine in it (the whole text may be one, spaces and all) replaced by
    its last part."""
    whole = text.startswith("/") or bool(PureWindowsPath(text).drive)
    if whole and "\n" not in text and on_this_machine(text) and len(re.split(r"[/\\]", text.strip("/\\"))) >= 2:
        return last_part(text)
    return _INSIDE.sub(lambda m: last_part(m.group()) if on_this_machine(m.group()) else m.group(), text)


def without_paths(value):
    """``value`` (JSON-like: dicts, lists, strings, numbers) with every absolute path in its strings replaced
    by the path's last part; keys and non-strings as they are."""
    if isinstance(value, str):
        return text_without_paths(value)
    if isinstance(value, dict):
        return {k: without_paths(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [without_paths(v) for v in value]
    return value


def frame_without_paths(frame):
    """A DataFrame whose text cells are ``without_paths`` (numbers, times untouched)."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or str(out[column].dtype) in ("string", "str"):
            out[column] = out[column].map(lambda v: text_without_paths(v) if isinstance(v, str) else v)
    return out
