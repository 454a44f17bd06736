"""The ledger's tables (SQLAlchemy Core): what the head migration creates, for queries to use.

Written for SQLite and PostgreSQL alike: times are UTC (``UTCDateTime`` hands back aware datetimes on
both), arrays are little-endian bytes in ``LargeBinary`` columns (never pickled), small structures
are JSON. The migrations under ``migrations/versions`` are the schema's history; a test checks that
these tables equal what they build, so the two cannot drift apart.

- ``predictions``: one forecast each: the series, the data it saw, the model, the settings, its
  quantiles per step and the bar times it forecast.
  An ensemble's forecast also keeps one row per member (model ``ensemble/<member key>``, ``parent_id``
  the ensemble's row): the member's own paths, the weight the meta-learner gave it and the features it
  saw, scored like any forecast and read back to retrain the meta-learner on realized scores.
- ``prediction_paths``: the close, high and low of every sampled path per step (float32, exactly the
  forecast's values): what CRPS, PIT, coverage and later threshold questions are computed from. A
  table of its own, so that listing predictions never reads the paths.
- ``evaluations``: one row per (prediction, step) once the bar it forecast has arrived.
- ``track_records``: the latest walk-forward track record of a model on a series (the badge).
- ``legacy_imports``: the JSON track-record files already imported (each is imported once).
- ``api_keys``: the service's API keys, hashed, each scoped to a workspace (``kronos keys``).
- ``adapters``: the model registry: every LoRA adapter (and meta-learner) trained for a series, with its
  parent, base model, the data window it learned from, its scores at decision and its status
  (``champion``, ``challenger``, ``rejected``, ``retired``); at most one champion per workspace, series and
  kind (a partial unique index). ``predictions.adapter_id`` names the adapter a forecast used.
- ``adapter_events``: the registry's history, append-only: one row per move of an entry (registered,
  promoted, rejected, retired, rolled back, restored), what made it (the gate, a manual promote, a
  rollback), its reason and the gate's scores, written in the move's transaction. ``adapters.reason`` and
  ``decided_at`` hold only the latest state; the events keep every earlier one (the Fine-tune timeline).
  A risk champion (``kronos_studio.risk.champion``) is an entry of kind ``risk_champion``: its base model is the
  risk model it names (with its recalibration in ``settings``), its ``path`` empty (no weights).
- ``risk_state``: what a recalibrated risk model has learnt per workspace, series, model and horizon (the adaptive
  level of each position and level, the variance ratios, the readings still waiting for their outcome), updated as
  outcomes arrive (``kronos_studio.ledger.risk_state``).

Forecasts and track records belong to a workspace (``DEFAULT_WORKSPACE`` unless one is named).
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator

# The head migration's revision id: opening a ledger already there needs no Alembic at all (a test
# checks it equals the newest script's revision).
HEAD = "0013_risk_state"

# Where a row goes when no workspace is named: the single-user studio, and every row kept before 0006.
DEFAULT_WORKSPACE = "default"

# 64-bit ids on PostgreSQL; SQLite's INTEGER PRIMARY KEY is its 64-bit rowid already.
Id = BigInteger().with_variant(Integer, "sqlite")

PATH_FIELDS = ("close", "high", "low")  # per path and step: close scores; high and low answer touch questions
PATH_DTYPE = "<f4"  # the forecast's own float32: the stored paths are its values bit for bit
TIME_DTYPE = "<i8"  # bar times as int64 nanoseconds since the epoch, UTC


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out: PostgreSQL keeps the zone (timestamptz),
    SQLite stores naive UTC text that sorts in time order."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"the ledger stores aware datetimes only, got naive {value}")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):  # a raw SQLite value read through a text affinity
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


metadata = MetaData(naming_convention={
    # Named constraints: migrations (SQLite batch mode in particular) can find them again.
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

predictions = Table(
    "predictions", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("forecast_key", String(64), nullable=False, unique=True),  # sha256 of what makes the forecast
    Column("created_at", UTCDateTime, nullable=False),
    # who may read, score and delete it (an API key's workspace)
    Column("workspace", String(64), nullable=False, server_default=DEFAULT_WORKSPACE, index=True),
    # the series
    Column("source", String(16), nullable=False),
    Column("symbol", String(200), nullable=False),
    Column("interval", String(16), nullable=False),
    Column("calendar", String(32)),
    Column("timezone", String(64), nullable=False),
    Column("exchange", String(64)),  # ccxt bars: where to fetch them again for scoring
    # the data it saw
    Column("data_hash", String(64), nullable=False),
    Column("last_bar_at", UTCDateTime, nullable=False),
    Column("last_close", Float, nullable=False),
    # sha256 of the times and OHLC of the history bars before the last one (scoring.history_fingerprint), and
    # how many: the bars that score the forecast must hold them unchanged. Null for forecasts kept before 0004.
    Column("history_fingerprint", String(64)),
    Column("fingerprint_bars", Integer),
    # the bars it forecast
    Column("first_target_at", UTCDateTime, nullable=False),
    Column("last_target_at", UTCDateTime, nullable=False),
    Column("target_times", LargeBinary, nullable=False),  # [horizon] TIME_DTYPE
    # the model
    Column("model", String(200), nullable=False),
    Column("model_ref", String(500)),
    Column("model_revision", String(64)),
    Column("members", JSON),  # an ensemble's member models, else null
    # the other series (and scheduled events) a conditioned forecast read (desk.covariates), else null
    Column("covariates", JSON),
    # the registry's adapter (``adapters.id``) the forecast used (a champion's), else null; no foreign key:
    # adding one to SQLite would copy the table, and an adapter row is never deleted
    Column("adapter_id", Id),
    # a member's row of an ensemble forecast: the ensemble's row (deleted with it), the weight the meta-learner
    # gave the member and the meta-learner's feature row for it (kronos_studio.ensemble.features). Null otherwise.
    Column("parent_id", Id, ForeignKey("predictions.id", ondelete="CASCADE")),
    Column("weight", Float),
    Column("features", JSON),
    # the settings
    Column("horizon", Integer, nullable=False),
    Column("paths", Integer, nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("temperature", Float, nullable=False),
    Column("top_p", Float, nullable=False),
    Column("top_k", Integer, nullable=False),
    Column("lookback", Integer),
    Column("calibrated", Boolean, nullable=False),
    Column("calibration_levels", JSON),  # the quantile levels a calibrated fan's calibration moved
    # the forecast, compact
    Column("quantile_levels", JSON, nullable=False),
    Column("quantiles", LargeBinary, nullable=False),  # [levels, horizon, 6 bar fields] PATH_DTYPE
    Column("provenance", JSON, nullable=False),
    # why the last bars offered could not score it (e.g. another exchange's bars), until bars that can do
    Column("waiting_reason", String(1000)),
    Index(None, "source", "symbol", "interval", "last_bar_at"),
    Index(None, "model"),
    Index(None, "created_at"),
    Index(None, "parent_id"),
    Index(None, "adapter_id"),
)

prediction_paths = Table(
    "prediction_paths", metadata,
    Column("prediction_id", Id, ForeignKey("predictions.id", ondelete="CASCADE"), primary_key=True),
    Column("fields", JSON, nullable=False),  # PATH_FIELDS when written
    Column("n_paths", Integer, nullable=False),
    Column("horizon", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),  # [n_paths, horizon, fields] PATH_DTYPE
)

evaluations = Table(
    "evaluations", metadata,
    Column("prediction_id", Id, ForeignKey("predictions.id", ondelete="CASCADE"), primary_key=True),
    Column("step", Integer, primary_key=True),  # 1 = the first forecast bar
    Column("bar_time", UTCDateTime, nullable=False),  # the actual bar's time
    Column("actual_open", Float, nullable=False),
    Column("actual_high", Float, nullable=False),
    Column("actual_low", Float, nullable=False),
    Column("actual_close", Float, nullable=False),
    Column("actual_volume", Float, nullable=False),
    Column("crps", Float, nullable=False),  # of the close, price units
    # the estimator behind ``crps`` (kronos_studio.evaluation.metrics.CRPS_ESTIMATOR): never mix two
    Column("crps_estimator", String(16), nullable=False, server_default="fair"),
    Column("pit", Float, nullable=False),
    Column("covered", Boolean, nullable=False),  # actual close inside the p10-p90 band
    Column("direction_hit", Boolean, nullable=False),  # median and actual on the same side of the last close
    Column("scored_at", UTCDateTime, nullable=False),
)

track_records = Table(
    "track_records", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String(16), nullable=False),
    Column("symbol", String(200), nullable=False),
    Column("interval", String(16), nullable=False),
    Column("model_key", String(500), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("record", JSON, nullable=False),  # kronos_studio.evaluation.trust.TrackRecord.to_dict()
    Column("workspace", String(64), nullable=False, server_default=DEFAULT_WORKSPACE),
    UniqueConstraint("workspace", "source", "symbol", "interval", "model_key"),
)

api_keys = Table(
    "api_keys", metadata,
    Column("key_id", String(32), primary_key=True),  # the token's public prefix: what `kronos keys` lists
    Column("token_sha256", String(64), nullable=False),  # the token itself is never stored
    Column("workspace", String(64), nullable=False),
    Column("admin", Boolean, nullable=False),  # may use the service open to every workspace's rows (sharing)
    Column("label", String(200)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)

legacy_imports = Table(
    "legacy_imports", metadata,
    Column("name", String(255), primary_key=True),
    Column("sha256", String(64), primary_key=True),
    Column("outcome", String(16), nullable=False),  # "imported", or "kept" when the ledger already had one
    Column("imported_at", UTCDateTime, nullable=False),
)

# The statuses of a registry entry (kronos_studio.ledger.registry says what moves one to another).
CHAMPION, CHALLENGER, REJECTED, RETIRED = "champion", "challenger", "rejected", "retired"

adapters = Table(
    "adapters", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("parent_id", Id, ForeignKey("adapters.id")),  # the champion it was trained to replace, else null
    Column("kind", String(32), nullable=False),  # "lora" (an adapter folder) or "meta_learner"
    Column("workspace", String(64), nullable=False, server_default=DEFAULT_WORKSPACE),
    # the series (as predictions name it)
    Column("source", String(16), nullable=False),
    Column("symbol", String(200), nullable=False),
    Column("interval", String(16), nullable=False),
    # the base model: name and predictor revision (a Hub commit or local:<sha256>)
    Column("base_model", String(200), nullable=False),
    Column("base_hash", String(128), nullable=False),
    # the data window it learned from: first and last bar, how many, and their history fingerprint
    Column("first_bar_at", UTCDateTime, nullable=False),
    Column("last_bar_at", UTCDateTime, nullable=False),
    Column("window_bars", Integer, nullable=False),
    Column("window_hash", String(64), nullable=False),
    Column("path", String(1000), nullable=False),  # the adapter folder (or meta-learner folder)
    Column("content_sha256", String(64)),  # the adapter's weights digest (Adapter.digest)
    Column("settings", JSON, nullable=False),  # training settings
    Column("scores", JSON),  # the gate's scores at decision time
    Column("status", String(16), nullable=False),
    Column("reason", String(1000)),
    Column("made_by", String(200), nullable=False),  # "kronos retrain", "kronos adapters promote (manual)", ...
    Column("created_at", UTCDateTime, nullable=False),
    Column("decided_at", UTCDateTime),
    # the champion whose promotion retired it: what a rollback of that champion restores
    Column("replaced_by", Id, ForeignKey("adapters.id")),
    # one entry per trained window: the same window retrained is found, not registered twice
    UniqueConstraint("workspace", "source", "symbol", "interval", "kind", "base_hash", "window_hash",
                     name="uq_adapters_window"),
    Index("uq_adapters_one_champion", "workspace", "source", "symbol", "interval", "kind", unique=True,
          sqlite_where=text("status = 'champion'"), postgresql_where=text("status = 'champion'")),
)

# What an event records (kronos_studio.ledger.registry writes them; ``adapter_events.event``).
REGISTERED, PROMOTED, REJECTED_EVENT, RETIRED_EVENT, ROLLED_BACK, RESTORED = (
    "registered", "promoted", "rejected", "retired", "rolled_back", "restored")
# What made a move (``adapter_events.by``); a registered event names the entry's ``made_by`` instead.
BY_GATE, BY_MANUAL, BY_ROLLBACK = "gate", "manual", "rollback"

adapter_events = Table(
    "adapter_events", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("adapter_id", Id, ForeignKey("adapters.id"), nullable=False),
    Column("workspace", String(64), nullable=False, server_default=DEFAULT_WORKSPACE),
    Column("at", UTCDateTime, nullable=False),
    Column("event", String(16), nullable=False),
    Column("by", String(200), nullable=False),
    Column("reason", String(1000)),
    Column("scores", JSON),  # the gate's scores of a gate decision, else null
    Index(None, "adapter_id"),
    Index(None, "workspace", "at"),
)

risk_state = Table(
    "risk_state", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("workspace", String(64), nullable=False, server_default=DEFAULT_WORKSPACE),
    # the series (as predictions name it)
    Column("source", String(16), nullable=False),
    Column("symbol", String(200), nullable=False),
    Column("interval", String(16), nullable=False),
    Column("model", String(500), nullable=False),  # the risk model in words (its reference and recalibration)
    Column("identity", String(64), nullable=False),  # sha256 of the model's identity and its recalibration's
    Column("horizon", Integer, nullable=False),
    Column("state", JSON, nullable=False),  # kronos_studio.risk.recalibrate.RecalState, and the readings pending
    Column("through", UTCDateTime),  # the last bar whose outcome it has learnt from
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("workspace", "source", "symbol", "interval", "identity", "horizon",
                     name="uq_risk_state_series_model"),
)
