"""Spend per cost centre: every approved purchase order, charged once to its budget year."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg

from orchestrator_core import audit


@dataclass(frozen=True)
class BudgetPosition:
    cost_centre: str
    fiscal_year: int
    committed: Decimal


def committed_spend(
    conn: psycopg.Connection[Any], *, cost_centre: str, fiscal_year: int
) -> Decimal:
    row = conn.execute(
        "SELECT coalesce(sum(amount), 0) FROM orchestrator.budget_commitments"
        " WHERE cost_centre = %s AND fiscal_year = %s",
        (cost_centre, fiscal_year),
    ).fetchone()
    assert row is not None
    return Decimal(row[0])


def commit_spend(
    conn: psycopg.Connection[Any],
    *,
    cost_centre: str,
    fiscal_year: int,
    purchase_order: str,
    deal_id: int,
    amount: Decimal,
    currency: str,
    workflow_run_id: int,
) -> BudgetPosition:
    """Charge a purchase order to its cost centre (once per purchase order); returns what the
    cost centre has committed for the year, this order included. A new commitment is audited
    (`budget.committed`) in the same transaction; charging the same order again appends
    nothing."""
    with conn.transaction():
        created = conn.execute(
            "INSERT INTO orchestrator.budget_commitments"
            " (cost_centre, fiscal_year, purchase_order, deal_id, amount, currency,"
            " workflow_run_id) VALUES (%s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (purchase_order) DO NOTHING RETURNING id",
            (cost_centre, fiscal_year, purchase_order, deal_id, amount, currency, workflow_run_id),
        ).fetchone()
        committed = committed_spend(conn, cost_centre=cost_centre, fiscal_year=fiscal_year)
        if created is not None:  # last: the append holds the chain's lock until commit
            audit.append(
                conn,
                audit.AuditEntry(
                    actor=audit.SYSTEM,
                    action="budget.committed",
                    entity_type="budget_commitment",
                    entity_id=created[0],
                    after={
                        "cost_centre": cost_centre,
                        "fiscal_year": fiscal_year,
                        "purchase_order": purchase_order,
                        "deal_id": deal_id,
                        "amount": str(amount),
                        "currency": currency,
                        "workflow_run_id": workflow_run_id,
                        "committed": str(committed),
                    },
                ),
            )
    return BudgetPosition(cost_centre=cost_centre, fiscal_year=fiscal_year, committed=committed)
