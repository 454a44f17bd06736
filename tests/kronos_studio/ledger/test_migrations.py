"""The schema's history: an empty database migrates to the head, a ledger of the previous version keeps
its rows when it is upgraded, and the tables the code queries are exactly what the migrations build."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from ledger_helpers import cut, forecast, series
from sqlalchemy import inspect
from testkit import ROOT

from kronos_studio.ledger import Ledger
from kronos_studio.ledger.engine import MIGRATIONS, create_ledger_engine
from kronos_studio.ledger.rows import prediction_row
from kronos_studio.ledger.schema import HEAD, metadata
from kronos_studio.ledger.store import schema_revision


def alembic_config():
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(url: str, revision: str) -> None:
    from alembic import command

    engine = create_ledger_engine(url)
    with engine.connect() as conn, conn.begin():
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    engine.dispose()


def test_head_is_the_newest_migration():
    from alembic.script import ScriptDirectory

    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD


def test_an_empty_database_migrates_to_the_head_and_matches_the_schema(ledger_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with Ledger.open(ledger_url) as ledger:
        assert schema_revision(ledger) == HEAD
        tables = set(inspect(ledger.engine).get_table_names())
        assert {"predictions", "prediction_paths", "evaluations", "track_records", "legacy_imports"} <= tables
        with ledger.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
        assert diff == [], diff
    with Ledger.open(ledger_url) as again:  # opening a ledger at the head changes nothing
        assert schema_revision(again) == HEAD


def test_a_ledger_of_the_previous_version_keeps_its_rows_when_upgraded(ledger_url):
    upgrade(ledger_url, "0001_initial")  # the ledger as the first version left it
    engine = create_ledger_engine(ledger_url)
    assert "track_records" not in inspect(engine).get_table_names()
    bars = series(300)
    fc = forecast(bars, 250, horizon=6)
    row, paths = prediction_row(fc, cut(bars, 250))
    row = {k: v for k, v in row.items() if k not in ("history_fingerprint", "fingerprint_bars", "workspace",
                                                   "adapter_id", "covariates")}  # 0004, 0006, 0008, 0010
    from kronos_studio.ledger.schema import prediction_paths, predictions

    with engine.connect() as conn, conn.begin():
        pid = conn.execute(predictions.insert().values(**row).returning(predictions.c.id)).scalar_one()
        conn.execute(prediction_paths.insert().values(prediction_id=pid, **paths))
    engine.dispose()

    with Ledger.open(ledger_url) as ledger:  # opening upgrades it
        assert schema_revision(ledger) == HEAD
        assert ledger.record(fc, cut(bars, 250)).id == pid  # the old row is the same forecast
        assert ledger.score(bars).steps == 6  # no history fingerprint: scored by its last close, as before
        ledger.put_track_record(("file", "TEST", "1h", "folder:x"), {"numbers": {"coverage": 0.5}})
        assert ledger.track_record(("file", "TEST", "1h", "folder:x")) == {"numbers": {"coverage": 0.5}}


def test_steps_scored_with_the_plain_crps_are_rescored_with_the_fair_one(ledger_url):
    from sqlalchemy import select

    from kronos_studio.evaluation.metrics import crps_samples
    from kronos_studio.ledger.schema import evaluations

    upgrade(ledger_url, "0002_track_records")  # scores of this version are plain sample CRPS
    engine = create_ledger_engine(ledger_url)
    bars = series(300)
    fc = forecast(bars, 250, horizon=6, paths=5)
    row, paths = prediction_row(fc, cut(bars, 250))
    row = {k: v for k, v in row.items() if k not in ("history_fingerprint", "fingerprint_bars", "workspace",
                                                   "adapter_id", "covariates")}  # 0004, 0006, 0008, 0010
    from kronos_studio.ledger.schema import prediction_paths, predictions

    actual = bars.frame["close"].to_numpy()[250:256]
    plain = crps_samples(fc.paths[:, :, 3], actual, fair=False)
    with engine.connect() as conn, conn.begin():
        pid = conn.execute(predictions.insert().values(**row).returning(predictions.c.id)).scalar_one()
        conn.execute(prediction_paths.insert().values(prediction_id=pid, **paths))
        when = pd.Timestamp("2024-06-13 11:00", tz="UTC").to_pydatetime()
        conn.execute(evaluations.insert(), [  # the columns of this version: no crps_estimator
            {"prediction_id": pid, "step": k + 1, "bar_time": when, "actual_open": 1.0, "actual_high": 1.0,
             "actual_low": 1.0, "actual_close": float(actual[k]), "actual_volume": 1.0, "crps": float(plain[k]),
             "pit": 0.5, "covered": True, "direction_hit": True, "scored_at": when} for k in range(6)])
    engine.dispose()
    with Ledger.open(ledger_url) as ledger:  # opening upgrades it and rescores the stored steps
        with ledger.engine.connect() as conn:
            got = conn.execute(select(evaluations.c.crps, evaluations.c.crps_estimator)
                               .order_by(evaluations.c.step)).all()
    fair = crps_samples(fc.paths[:, :, 3], actual)
    np.testing.assert_allclose([g.crps for g in got], fair, rtol=1e-6)
    assert (fair < plain).all() and {g.crps_estimator for g in got} == {"fair"}


def test_coverage_is_reread_with_the_band_that_does_not_depend_on_the_path_count(ledger_url):
    """0007: every stored step's coverage is re-read from its stored paths with the Weibull band; going down
    restores the linear rule's. Actuals placed between the two rules' upper band edges tell them apart."""
    from alembic import command
    from sqlalchemy import select

    from kronos_studio.ledger.schema import evaluations, prediction_paths, predictions

    upgrade(ledger_url, "0006_workspaces")
    engine = create_ledger_engine(ledger_url)
    bars = series(300)
    fc = forecast(bars, 250, horizon=6, paths=30)
    row, paths = prediction_row(fc, cut(bars, 250))
    row.pop("adapter_id"), row.pop("covariates")  # 0008, 0010
    close = np.frombuffer(paths["data"], dtype="<f4").reshape(paths["n_paths"], paths["horizon"], -1)
    close = close[:, :, list(paths["fields"]).index("close")].astype(np.float64)
    linear_hi = np.quantile(close, 0.9, axis=0)
    weibull_lo, weibull_hi = np.quantile(close, (0.1, 0.9), axis=0, method="weibull")
    assert (weibull_hi > linear_hi).all()  # 30 draws: the linear band is narrower
    actual = (linear_hi + weibull_hi) / 2  # outside the linear band, inside the Weibull one
    with engine.connect() as conn, conn.begin():
        pid = conn.execute(predictions.insert().values(**row).returning(predictions.c.id)).scalar_one()
        conn.execute(prediction_paths.insert().values(prediction_id=pid, **paths))
        when = pd.Timestamp("2024-06-13 11:00", tz="UTC").to_pydatetime()
        conn.execute(evaluations.insert(), [
            {"prediction_id": pid, "step": k + 1, "bar_time": when, "actual_open": 1.0, "actual_high": 1.0,
             "actual_low": 1.0, "actual_close": float(actual[k]), "actual_volume": 1.0, "crps": 1.0,
             "pit": 0.5, "covered": False, "direction_hit": True, "scored_at": when} for k in range(6)])
    engine.dispose()

    def covered(ledger) -> list[bool]:
        with ledger.engine.connect() as conn:
            return list(conn.execute(select(evaluations.c.covered).order_by(evaluations.c.step)).scalars())

    with Ledger.open(ledger_url) as ledger:  # opening upgrades it
        assert covered(ledger) == [True] * 6 and (actual >= weibull_lo).all()
        with ledger.engine.connect() as conn, conn.begin():
            config = alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, "0006_workspaces")
        assert covered(ledger) == [False] * 6


def test_migrations_go_down_and_up_again(tmp_path):
    from alembic import command

    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    Ledger.open(url).close()
    engine = create_ledger_engine(url)
    for target in ("0001_initial", "base", "head"):
        with engine.connect() as conn, conn.begin():
            config = alembic_config()
            config.attributes["connection"] = conn
            (command.downgrade if target != "head" else command.upgrade)(config, target)
    assert {"predictions", "track_records"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_a_ledger_from_a_newer_version_is_refused_with_the_fix(tmp_path):
    from kronos_studio.ledger import LedgerError

    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    Ledger.open(url).close()
    engine = create_ledger_engine(url)
    with engine.connect() as conn, conn.begin():
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0099_future'")
    engine.dispose()
    with pytest.raises(LedgerError, match="upgrade this one"):
        Ledger.open(url)


def test_the_migrations_ship_as_package_data():
    import tomllib

    root = ROOT
    data = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["kronos_studio"]
    shipped = {p.relative_to(root / "kronos_studio").as_posix() for pattern in data
               for p in (root / "kronos_studio").glob(pattern)}
    needed = {p.relative_to(root / "kronos_studio").as_posix() for p in MIGRATIONS.rglob("*")
              if p.is_file() and "__pycache__" not in p.parts}
    assert needed and needed <= shipped, needed - shipped


def test_a_ledger_at_0004_gets_member_rows_and_goes_back_keeping_its_paths_and_scores(ledger_url):
    from alembic import command
    from ledger_helpers import ensemble_forecast
    from sqlalchemy import func, select

    from kronos_studio.ledger.schema import evaluations, prediction_paths, predictions

    upgrade(ledger_url, "0004_history_fingerprint")
    engine = create_ledger_engine(ledger_url)
    bars = series(300)
    fc = forecast(bars, 240, horizon=6)
    row, paths = prediction_row(fc, cut(bars, 240))
    row.pop("workspace"), row.pop("adapter_id"), row.pop("covariates")  # 0006, 0008, 0010
    when = pd.Timestamp("2024-06-13 11:00", tz="UTC").to_pydatetime()
    with engine.connect() as conn, conn.begin():
        pid = conn.execute(predictions.insert().values(**row).returning(predictions.c.id)).scalar_one()
        conn.execute(prediction_paths.insert().values(prediction_id=pid, **paths))
        conn.execute(evaluations.insert(), [
            {"prediction_id": pid, "step": k + 1, "bar_time": when, "actual_open": 1.0, "actual_high": 1.0,
             "actual_low": 1.0, "actual_close": 50.0, "actual_volume": 1.0, "crps": 0.1, "pit": 0.5,
             "covered": True, "direction_hit": True, "scored_at": when} for k in range(3)])
    engine.dispose()

    with Ledger.open(ledger_url) as ledger:  # opening upgrades it: the old row gets nulls, keeps paths and scores
        old = ledger.predictions_frame().set_index("prediction_id").loc[pid]
        assert pd.isna(old["parent_id"]) and np.isnan(old["weight"]) and old["scored_steps"] == 3
        np.testing.assert_array_equal(ledger.paths(pid)[1][:, :, 0], fc.paths[:, :, 3])
        ensemble_id = ledger.record(ensemble_forecast(bars, 250, horizon=6), cut(bars, 250)).id
        ledger.score(bars)
        assert ledger.counts()["predictions"] == 5  # the old one, the ensemble and its 3 members

    def count(conn, table):
        return conn.execute(select(func.count()).select_from(table)).scalar_one()

    engine = create_ledger_engine(ledger_url)
    with engine.connect() as conn, conn.begin():
        config = alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, "0004_history_fingerprint")
    with engine.connect() as conn:
        assert "parent_id" not in {c["name"] for c in inspect(conn).get_columns("predictions")}
        ids = sorted(conn.execute(select(predictions.c.id)).scalars())
        assert ids == sorted([pid, ensemble_id])  # the member rows go; the forecasts as made stay
        assert count(conn, prediction_paths) == 2  # with their paths and scores: none cascaded away
        assert count(conn, evaluations) == 6 + 6  # the old one now scored on all 6 steps, and the ensemble
    with engine.connect() as conn, conn.begin():
        config = alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, "0003_fair_crps")  # and the revision before, which also keeps them
    with engine.connect() as conn:
        assert (count(conn, prediction_paths), count(conn, evaluations)) == (2, 12)
    engine.dispose()
    with Ledger.open(ledger_url) as ledger:  # and up again
        assert schema_revision(ledger) == HEAD and ledger.counts()["evaluations"] == 12


def test_a_registry_at_0008_gets_a_history_from_what_its_rows_know(ledger_url):
    from datetime import datetime, timedelta, timezone

    from kronos_studio.ledger.registry import MANUAL, Registry, SeriesKey
    from kronos_studio.ledger.schema import adapters

    upgrade(ledger_url, "0008_registry")
    t0 = datetime(2024, 6, 3, tzinfo=timezone.utc)
    common = {"kind": "lora", "workspace": "default", "source": "file", "symbol": "TEST", "interval": "1h",
              "base_model": "tiny", "base_hash": "local:abc", "first_bar_at": t0, "last_bar_at": t0,
              "window_bars": 10, "path": "/a", "settings": {}, "made_by": "kronos retrain"}
    gate = {"crps": {"challenger": 1.0}}
    rows = [  # (id, status, reason, scores, replaced_by, hours after t0 it was decided)
        (1, "retired", "replaced by adapter 2", gate, 2, 3),
        (2, "champion", MANUAL, None, None, 3),
        (3, "rejected", "worse than the champion", {"crps": {"challenger": 2.0}}, None, 4),
        (4, "retired", "rolled back", gate, None, 6),
        (5, "challenger", None, None, None, None),
    ]
    engine = create_ledger_engine(ledger_url)
    with engine.connect() as conn, conn.begin():
        for entry_id, status, reason, scores, _, hours in rows:
            conn.execute(adapters.insert().values(
                id=entry_id, window_hash=f"w{entry_id}", status=status, reason=reason, scores=scores,
                replaced_by=None, created_at=t0 + timedelta(hours=entry_id),
                decided_at=None if hours is None else t0 + timedelta(hours=hours, minutes=30), **common))
        for entry_id, _, _, _, replaced_by, _ in rows:  # the foreign key needs the row it names first
            conn.execute(adapters.update().where(adapters.c.id == entry_id).values(replaced_by=replaced_by))
    engine.dispose()

    with Ledger.open(ledger_url) as ledger:  # opening upgrades it
        history = [(e.adapter_id, e.event, e.by, e.reason, e.scores, e.at.hour)
                   for e in Registry(ledger).history(SeriesKey("file", "TEST", "1h"))]
        assert history == [
            (1, "registered", "kronos retrain", None, None, 1),
            (2, "registered", "kronos retrain", None, None, 2),
            (3, "registered", "kronos retrain", None, None, 3),
            (1, "retired", "manual", "replaced by adapter 2", None, 3),  # what its replacer's row says
            (2, "promoted", "manual", MANUAL, None, 3),
            (4, "registered", "kronos retrain", None, None, 4),
            (3, "rejected", "gate", "worse than the champion", {"crps": {"challenger": 2.0}}, 4),
            (5, "registered", "kronos retrain", None, None, 5),
            (4, "rolled_back", "rollback", "rolled back", None, 6),
        ]
        assert Registry(ledger).promote(5, gate, "beat the base").reason == "beat the base"  # new moves append
        assert [e.event for e in Registry(ledger).history(entry_id=5)] == ["registered", "promoted"]


def test_series_named_by_their_files_are_renamed_so_a_newer_download_scores_them(ledger_url):
    """Issue 62 item 1: rows written while a file's series carried the file's name (``cut0:NDXBAR``) get the series'
    own name, and a ccxt series its exchange (which its forecasts recorded); a newer download of NDXBAR then scores
    the forecast. Two files' champions of one symbol meet as one series: the one decided last serves, the other is
    retired with the reason; a track record the new name has already keeps its old one."""
    from datetime import datetime, timedelta, timezone

    from kronos_studio.ledger.registry import Registry, SeriesKey
    from kronos_studio.ledger.schema import adapters, prediction_paths, predictions, track_records

    upgrade(ledger_url, "0010_covariates")
    engine = create_ledger_engine(ledger_url)
    ndx, aapl, btc = series(300, symbol="NDXBAR"), series(300, seed=1, symbol="AAPL"), series(300, seed=2)
    old = [(ndx, "file", "cut0:NDXBAR", None), (aapl, "file", "AAPL", None), (btc, "ccxt", "BTC/USDT", "binance"),
           (btc, "file", "bitfinex_(BTC,ETH)USD_d:x:BTC", None)]  # the file's name ends at the first ':'
    t0 = datetime(2026, 11, 25, tzinfo=timezone.utc)
    with engine.connect() as conn, conn.begin():
        for seed, (bars, source, symbol, exchange) in enumerate(old):
            row, paths = prediction_row(forecast(bars, 250, horizon=6, seed=seed), cut(bars, 250))
            row.update(source=source, symbol=symbol, exchange=exchange)
            pid = conn.execute(predictions.insert().values(**row).returning(predictions.c.id)).scalar_one()
            conn.execute(prediction_paths.insert().values(prediction_id=pid, **paths))
        common = {"kind": "lora", "workspace": "default", "interval": "1h", "base_model": "tiny",
                  "base_hash": "local:abc", "first_bar_at": t0, "last_bar_at": t0, "window_bars": 10, "path": "/a",
                  "settings": {}, "made_by": "kronos retrain", "status": "champion", "created_at": t0}
        for entry_id, source, symbol, hours in ((1, "file", "bitfinex_(BTC,ETH)USD_d:BTC", 1),
                                                (2, "file", "bitstamp_(BTC,ETH,LTC)USD_d:BTC", 2),
                                                (3, "ccxt", "BTC/USDT", 1)):
            conn.execute(adapters.insert().values(id=entry_id, source=source, symbol=symbol, window_hash=f"w{entry_id}",
                                                  decided_at=t0 + timedelta(hours=hours), **common))
        for name, hours in (("cut0:NDXBAR", 2), ("full:NDXBAR", 1)):
            conn.execute(track_records.insert().values(source="file", symbol=name, interval="1h", model_key="m",
                                                       workspace="default", updated_at=t0 + timedelta(hours=hours),
                                                       record={"from": name}))
    engine.dispose()

    with Ledger.open(ledger_url) as ledger:  # opening upgrades it
        assert schema_revision(ledger) == HEAD
        table = ledger.predictions_frame()
        assert sorted(table["symbol"]) == ["AAPL", "NDXBAR", "binance:BTC/USDT", "x:BTC"]
        assert ledger.score(ndx).steps == 6  # the newer download of NDXBAR scores it
        assert len(ledger.steps_frame(symbol="NDXBAR")) == 6
        registry = Registry(ledger)
        assert registry.champion(SeriesKey("file", "BTC", "1h")).id == 2  # the one decided last
        retired = registry.get(1)
        assert (retired.symbol, retired.status) == ("BTC", "retired") and "'bitfinex_(BTC,ETH)USD_d:BTC' became" \
            in retired.reason
        assert [(e.event, e.by) for e in registry.history(entry_id=1)][-1] == ("retired", "migration")
        assert registry.champion(SeriesKey("ccxt", "binance:BTC/USDT", "1h")).id == 3
        assert ledger.track_record(("file", "NDXBAR", "1h", "m")) == {"from": "cut0:NDXBAR"}  # the newest stays
        assert ledger.track_record(("file", "full:NDXBAR", "1h", "m")) == {"from": "full:NDXBAR"}
