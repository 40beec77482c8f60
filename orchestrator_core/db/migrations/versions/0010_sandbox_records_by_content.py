"""The sandbox finds records by content through an index, not by reading a whole table.

Airtable upserts (`performUpsert`) and lookups by key (`filterByFormula`) read only the records
holding one of the request's values (`data @> …`), so a request costs the same with 10 records
in a table as with 10,000 (before this, every request read the whole table: 50 ms at 1,000
records, 1.5 s at 8,000, which made the sandbox, not the product, the limit of a bulk import).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX records_content ON sandbox.records USING gin (data jsonb_path_ops)")


def downgrade() -> None:
    op.execute("DROP INDEX sandbox.records_content")
