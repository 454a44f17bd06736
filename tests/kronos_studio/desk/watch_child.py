"""A watch run in a process of its own that stops, where the test that killed it says, for good: after its third
forecast is recorded it writes the file it was given and waits, until the test kills it with SIGKILL."""
from __future__ import annotations

import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from watch_kit import request  # noqa: E402

from kronos_studio.desk import Desk  # noqa: E402
from kronos_studio.desk.watch import Replay  # noqa: E402
from kronos_studio.ledger import Ledger  # noqa: E402


def main(folder: str, url: str, reached: str) -> None:
    recorded = []

    def third_then_wait(series: str) -> None:
        recorded.append(series)
        if len(recorded) == 3:
            Path(reached).write_text(series)
            threading.Event().wait()  # here until killed

    with Ledger.open(url) as ledger:
        Desk().watch(request(Path(folder), replay=Replay("2026-05-01", "2026-05-05")), ledger,
                     after_record=third_then_wait)


if __name__ == "__main__":
    main(*sys.argv[1:4])
