"""The desk's worded tables (``desk.risk_tables``, ``desk.rank_tables``: ``Table``s of text) printed as aligned
columns, one printer for every command that prints them (``kronos risk``, ``kronos batch --evaluate``)."""
from __future__ import annotations


def table_text(frame) -> str:
    """A frame of text as aligned columns: the first (what the row is) to the left, the numbers to the right."""
    columns = [[str(c), *map(str, frame[c])] for c in frame.columns]
    widths = [max(map(len, column)) for column in columns]
    return "\n".join("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths))
                               ).rstrip() for row in zip(*columns))


def printed(tables, said=(), after=()) -> str:
    """The desk's worded tables as text: each said then drawn, ``said`` before them, ``after`` at the end."""
    blocks = [list(said)] + [[*t.said, table_text(t.frame)] for t in tables] + [list(after)]
    return "\n\n".join("\n".join(block) for block in blocks if block)
