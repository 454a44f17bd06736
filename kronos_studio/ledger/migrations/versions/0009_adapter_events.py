"""The registry's history: ``adapter_events``, one append-only row per move of an entry (registered,
promoted, rejected, retired, rolled back, restored), what made it, its reason and the gate's scores.
``adapters.reason`` / ``decided_at`` keep the latest state only; each entry already there gets its
registration and its latest state as events, from what its row knows.

Revision ID: 0009_adapter_events
Revises: 0008_registry
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_adapter_events"
down_revision = "0008_registry"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)
DEFAULT = "default"  # kronos_studio.ledger.schema.DEFAULT_WORKSPACE when this revision was written
ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
# What kronos_studio.ledger.registry wrote into adapters.reason when this revision was written.
MANUAL = "manual promote (bypassed the gate)"
ROLLED_BACK_REASON = "rolled back"
RESTORED_PREFIX = "restored by rolling back"
UNKNOWN = "unknown"  # a retirement whose promote's maker the rows no longer tell

ADAPTERS = sa.table("adapters", sa.column("id", ID), sa.column("workspace", sa.String), sa.column("status", sa.String),
                    sa.column("reason", sa.String), sa.column("made_by", sa.String), sa.column("scores", sa.JSON),
                    sa.column("created_at", TIME), sa.column("decided_at", TIME), sa.column("replaced_by", ID))
EVENTS = sa.table("adapter_events", sa.column("adapter_id", ID), sa.column("workspace", sa.String),
                  sa.column("at", TIME), sa.column("event", sa.String), sa.column("by", sa.String),
                  sa.column("reason", sa.String), sa.column("scores", sa.JSON))


def upgrade() -> None:
    op.create_table(
        "adapter_events",
        sa.Column("id", ID, nullable=False, autoincrement=True),
        sa.Column("adapter_id", ID, nullable=False),
        sa.Column("workspace", sa.String(64), nullable=False, server_default=DEFAULT),
        sa.Column("at", TIME, nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=True),
        sa.Column("scores", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_adapter_events"),
        sa.ForeignKeyConstraint(["adapter_id"], ["adapters.id"], name="fk_adapter_events_adapter_id_adapters"),
    )
    op.create_index("ix_adapter_events_adapter_id", "adapter_events", ["adapter_id"])
    op.create_index("ix_adapter_events_workspace_at", "adapter_events", ["workspace", "at"])
    conn = op.get_bind()
    rows = conn.execute(sa.select(ADAPTERS).order_by(ADAPTERS.c.id)).all()
    by_id = {r.id: r for r in rows}
    events = []
    for r in rows:
        events.append({"adapter_id": r.id, "workspace": r.workspace, "at": r.created_at, "event": "registered",
                       "by": r.made_by, "reason": None, "scores": None})
        latest = _latest_event(r, by_id)
        if latest is not None:
            events.append({"adapter_id": r.id, "workspace": r.workspace, "at": r.decided_at or r.created_at,
                           "reason": r.reason, **latest})
    # Time order across entries, as the registry writes them (ids break ties).
    events.sort(key=lambda e: (e["at"], e["event"] != "registered"))  # stable: then by id
    if events:
        conn.execute(EVENTS.insert(), events)


def _latest_event(row, by_id) -> dict | None:
    """The event that left ``row`` in its status (event, by, scores), None for a challenger."""
    reason = row.reason or ""
    if row.status == "rejected":
        return {"event": "rejected", "by": "gate", "scores": row.scores}
    if row.status == "champion":
        if reason.startswith(RESTORED_PREFIX):
            return {"event": "restored", "by": "rollback", "scores": None}
        if reason == MANUAL:
            return {"event": "promoted", "by": "manual", "scores": None}
        return {"event": "promoted", "by": "gate", "scores": row.scores}
    if row.status == "retired":
        if reason == ROLLED_BACK_REASON:
            return {"event": "rolled_back", "by": "rollback", "scores": None}
        replacer = by_id.get(row.replaced_by)
        by = UNKNOWN
        if replacer is not None and replacer.reason == MANUAL:
            by = "manual"
        elif replacer is not None and replacer.status == "champion" and not (replacer.reason or "").startswith(
                RESTORED_PREFIX):
            by = "gate"
        return {"event": "retired", "by": by, "scores": None}
    return None


def downgrade() -> None:
    op.drop_index("ix_adapter_events_workspace_at", table_name="adapter_events")
    op.drop_index("ix_adapter_events_adapter_id", table_name="adapter_events")
    op.drop_table("adapter_events")
