"""Eight threads, each with its own connection pool (as separate Streamlit sessions and command-line
runs are), open a new ledger at once, record forecasts and score them while the others do the same:
no row is lost, none is doubled, the database stays sound."""
from __future__ import annotations

import threading

from ledger_helpers import cut, forecast, series

from kronos_studio.ledger import Ledger

THREADS = 8
FORECASTS = 6  # per thread, besides the one forecast every thread records
HORIZON = 6


def test_eight_threads_writing_and_scoring_at_once_lose_nothing(ledger_url):
    bars = series(200)
    shared = forecast(bars, 150, horizon=HORIZON, seed=999)  # every thread records this one: kept once
    start = threading.Barrier(THREADS)
    ids: list[set[int]] = [set() for _ in range(THREADS)]
    shared_ids, errors = set(), []

    def work(t: int) -> None:
        try:
            start.wait()  # all open the new database together: the migration runs once, under its lock
            with Ledger.open(ledger_url) as ledger:
                for k in range(FORECASTS):
                    at = 100 + 5 * k + t  # each thread its own cut-offs and seeds
                    ids[t].add(ledger.record(forecast(bars, at, horizon=HORIZON, seed=t * 100 + k),
                                             cut(bars, at)).id)
                    shared_ids.add(ledger.record(shared, cut(bars, 150)).id)
                    ledger.score(cut(bars, 120 + 10 * k))  # scoring while the others record and score
                ledger.score(bars)
        except Exception as e:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors

    every = set().union(*ids)
    assert len(every) == THREADS * FORECASTS and len(shared_ids) == 1 and not every & shared_ids
    with Ledger.open(ledger_url) as ledger:
        assert ledger.counts()["predictions"] == THREADS * FORECASTS + 1
        table = ledger.predictions_frame()
        assert (table["scored_steps"] == HORIZON).all()  # every step of every forecast scored
        steps = ledger.evaluations_frame()
        assert len(steps) == (THREADS * FORECASTS + 1) * HORIZON
        assert not steps.duplicated(["prediction_id", "step"]).any()
        assert ledger.steps_frame()["close_p50"].notna().all()
        if ledger.engine.dialect.name == "sqlite":
            assert ledger.read(lambda c: c.exec_driver_sql("PRAGMA integrity_check").scalar()) == "ok"
            assert ledger.read(lambda c: c.exec_driver_sql("PRAGMA journal_mode").scalar()) == "wal"


def test_first_connections_to_a_new_sqlite_file_at_once_all_get_in(tmp_path):
    """Switching a new file to WAL meets the other openers' switch, and SQLite answers that with "database
    is locked" at once, past the busy timeout: each connection must wait its turn instead (about 1 in 20
    rounds failed before). Connections only, so that many rounds fit in a few seconds."""
    from kronos_studio.ledger.engine import create_ledger_engine

    rounds, errors = 150, []
    for r in range(rounds):
        url = f"sqlite:///{tmp_path / f'ledger{r}.sqlite'}"
        engines = [create_ledger_engine(url) for _ in range(THREADS)]
        start = threading.Barrier(THREADS)

        def connect(engine, start=start) -> None:
            try:
                start.wait()
                with engine.connect() as conn:
                    assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            except Exception as error:  # surfaced below
                errors.append(repr(error))

        threads = [threading.Thread(target=connect, args=(engine,)) for engine in engines]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        for engine in engines:
            engine.dispose()
    assert not errors, f"{len(errors)} failed connections, first: {errors[0]}"
