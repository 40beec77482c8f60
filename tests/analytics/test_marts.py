"""The KPI marts (`dbt_audit/`) against figures worked out by hand from known Postgres rows.

One build over a known dataset (inserted with plain SQL, times with non-UTC offsets) serves
most tests; every expected figure below is a literal computed by hand from those rows, never
by the marts' SQL. Percentiles are linear interpolation (`quantile_cont`, like Postgres's
`percentile_cont`): p over n sorted values sits at position p * (n - 1).

The fixed rows lie in September 2026, months before any run of these tests, so the rows
placed relative to the database's clock (open exceptions, rows after the cut-off) never fall
on their days.
"""

from __future__ import annotations

import hashlib
import shutil
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from orchestrator_core.analytics.build import BuildFailed, BuildReport, build_marts
from orchestrator_core.analytics.extension import connect
from orchestrator_core.analytics.kpis import Kpis, Period, read_kpis
from orchestrator_core.db.urls import with_database
from orchestrator_core.policy.loader import LoadedPolicy, load_policy
from orchestrator_core.settings import DEFAULT_POLICY_PATH
from tests.conftest import empty_tables

Row = tuple[Any, ...]
Table = dict[Row, Row]

CI = "company_intake"
PA = "procurement_approval"
DK = "deal_kickoff"
CRM = "contact_role_mapping"
ALICE = "user:alice@example.com"
BOB = "user:bob@example.com"
CAROL = "user:carol@example.com"
DAVE = "user:dave@example.com"
HUBSPOT_USER = "hubspot:userId:45678"

SEP1, SEP2, SEP3, SEP4, SEP5 = (date(2026, 9, day) for day in range(1, 6))

# The shipped policy: CC-1000 EUR 1,200,000; CC-2000 USD 1,500,000; CC-3000 EUR 400,000;
# CC-9000 EUR 250,000.
POLICY: LoadedPolicy = load_policy(DEFAULT_POLICY_PATH)


def ts(text: str) -> datetime:
    """A UTC wall-clock time as the marts hold it (naive)."""
    return datetime.fromisoformat(text)


# --- The dataset ------------------------------------------------------------------------------
# Events: (id, subscription type, status, received at). 3 lands on 1 Sep UTC, 4 on 3 Sep UTC.
# 3, 5 and 14 are unrouted and 15 not yet dispatched (no run); 16's run is requested after the
# cut-off. Event 6 started runs of two workflows; event 4 a run and (through it) a child run.
ENVELOPES_SQL = """
INSERT INTO orchestrator.webhook_deliveries (
    id, received_at, signature_version, event_count, stored_count, duplicate_count,
    rejected_count)
VALUES ('00000000-0000-4000-8000-000000000001', '2026-09-01 23:30:00+00', 'v3', 16, 16, 0, 0);

INSERT INTO orchestrator.event_envelopes (
    id, portal_id, event_id, content_hash, subscription_type, object_type, object_id,
    occurred_at, attempt_number, last_attempt_number, correlation_id, delivery_id, status,
    payload, received_at)
OVERRIDING SYSTEM VALUE
SELECT e.id, 62515, 50000000 + e.id, 'hash-' || e.id, e.subscription_type,
       split_part(e.subscription_type, '.', 1), 9000 + e.id, e.received_at::timestamptz, 0, 0,
       gen_random_uuid(), '00000000-0000-4000-8000-000000000001', e.status, '{}',
       e.received_at::timestamptz
FROM (VALUES
    (1, 'company.creation', 'processed', '2026-09-02 08:00:00+00'),
    (2, 'company.propertyChange', 'processed', '2026-09-02 09:00:00+02'),
    (3, 'contact.creation', 'unrouted', '2026-09-02 01:30:00+02'),
    (4, 'deal.propertyChange', 'processed', '2026-09-02 23:30:00-05'),
    (5, 'contact.propertyChange', 'unrouted', '2026-09-02 12:00:00+00'),
    (6, 'deal.propertyChange', 'awaiting_approval', '2026-09-02 08:59:55+00'),
    (7, 'company.creation', 'failed', '2026-09-02 09:59:50+00'),
    (8, 'company.creation', 'processed', '2026-09-02 11:59:00+00'),
    (9, 'deal.propertyChange', 'processed', '2026-09-03 05:59:30+00'),
    (10, 'deal.propertyChange', 'failed', '2026-09-03 06:59:40+00'),
    (11, 'company.creation', 'dispatched', '2026-09-02 22:59:00+00'),
    (12, 'company.creation', 'processed', '2026-09-02 23:59:28+00'),
    (13, 'company.creation', 'dispatched', '2026-09-02 13:59:59+00'),
    (14, 'deal.creation', 'unrouted', '2026-09-03 10:00:00+00'),
    (15, 'deal.propertyChange', 'received', '2026-09-03 11:00:00+00'),
    (16, 'company.creation', 'dispatched', '2026-09-02 20:00:00+00')
) AS e (id, subscription_type, status, received_at)
"""

# Runs: run 2 requested 07:00:02 UTC, run 6 at 23:59:30 UTC on 2 Sep (started 23:59:40 UTC,
# finished 00:00:50 UTC on 3 Sep: 70 s), run 13 a child of run 10 carrying its event, run 15
# requested an hour after the insert (after the cut-off).
RUNS_SQL = """
INSERT INTO orchestrator.workflow_runs (
    id, run_key, workflow, thread_id, envelope_ids, trigger, parent_id, status, outcome,
    policy_version, policy_hash, requested_at, started_at, finished_at)
OVERRIDING SYSTEM VALUE
SELECT r.id, 'run-' || r.id, r.workflow, r.workflow || '/object-' || r.id, r.envelope_ids::bigint[],
       jsonb_build_object('source', r.source), r.parent_id, r.status, r.outcome, '2026-11-25.1',
       'test', r.requested_at::timestamptz, r.started_at::timestamptz, r.finished_at::timestamptz
FROM (VALUES
    (1, 'company_intake', '{1}', 'hubspot', NULL::bigint, 'succeeded', 'mirrored',
     '2026-09-02 08:00:05+00', '2026-09-02 08:00:10+00', '2026-09-02 08:00:40+00'),
    (2, 'company_intake', '{2}', 'hubspot', NULL, 'succeeded', 'mirrored',
     '2026-09-02 09:00:02+02', '2026-09-02 07:00:05+00', '2026-09-02 07:01:05+00'),
    (3, 'company_intake', '{7}', 'hubspot', NULL, 'failed', NULL,
     '2026-09-02 10:00:00+00', '2026-09-02 10:00:10+00', '2026-09-02 10:02:10+00'),
    (4, 'company_intake', '{8}', 'hubspot', NULL, 'succeeded', 'needs_review',
     '2026-09-02 12:00:00+00', '2026-09-02 12:00:00+00', '2026-09-02 12:10:00+00'),
    (5, 'company_intake', '{11}', 'hubspot', NULL, 'requested', NULL,
     '2026-09-02 23:00:00+00', NULL, NULL),
    (6, 'company_intake', '{12}', 'hubspot', NULL, 'succeeded', 'mirrored',
     '2026-09-03 00:59:30+01', '2026-09-02 18:59:40-05', '2026-09-03 00:00:50+00'),
    (7, 'company_intake', '{13}', 'hubspot', NULL, 'running', NULL,
     '2026-09-02 14:00:00+00', '2026-09-02 14:00:05+00', NULL),
    (8, 'procurement_approval', '{6}', 'hubspot', NULL, 'awaiting_approval', NULL,
     '2026-09-02 09:00:00+00', '2026-09-02 09:00:05+00', NULL),
    (9, 'deal_kickoff', '{6}', 'hubspot', NULL, 'succeeded', 'booked',
     '2026-09-02 09:00:00+00', '2026-09-02 09:00:20+00', '2026-09-02 09:05:20+00'),
    (10, 'procurement_approval', '{4}', 'hubspot', NULL, 'succeeded', 'approved',
     '2026-09-03 04:30:10+00', '2026-09-03 04:30:20+00', '2026-09-03 10:30:20+00'),
    (11, 'procurement_approval', '{9}', 'hubspot', NULL, 'succeeded', 'rejected',
     '2026-09-03 06:00:00+00', '2026-09-03 06:00:30+00', '2026-09-03 08:00:30+00'),
    (12, 'procurement_approval', '{10}', 'hubspot', NULL, 'failed', NULL,
     '2026-09-03 07:00:00+00', '2026-09-03 07:00:10+00', '2026-09-03 07:00:25+00'),
    (13, 'deal_kickoff', '{4}', 'workflow', 10, 'succeeded', 'booked',
     '2026-09-03 10:31:00+00', '2026-09-03 10:31:05+00', '2026-09-03 10:31:35+00'),
    (14, 'contact_role_mapping', '{}', 'hubspot', NULL, 'failed', NULL,
     '2026-09-04 10:00:00+00', '2026-09-04 10:00:00+00', '2026-09-04 10:00:05+00'),
    (15, 'company_intake', '{16}', 'hubspot', NULL, 'requested', NULL,
     (now() + interval '1 hour')::text, NULL, NULL)
) AS r (id, workflow, envelope_ids, source, parent_id, status, outcome, requested_at,
        started_at, finished_at)
"""

# Dagster attempts: (dagster run, workflow run, kind, status, started, finished) -> seconds.
# Working seconds per run: 1: 30, 2: 30 + 20, 3: 30 + 60, 4: 600, 6: 70, 7: running (none
# finished), 8: 30, 9: 300, 10: 30 + 20, 11: 30 + 30, 12: 15, 13: 30, 14: 5; run 5 none.
ATTEMPTS_SQL = """
INSERT INTO orchestrator.workflow_run_attempts (
    dagster_run_id, workflow_run_id, kind, job_name, status, started_at, finished_at)
SELECT a.dagster_run_id, a.workflow_run_id, a.kind, 'job', a.status,
       a.started_at::timestamptz, a.finished_at::timestamptz
FROM (VALUES
    ('dr-1', 1, 'start', 'succeeded', '2026-09-02 08:00:10+00', '2026-09-02 08:00:40+00'),
    ('dr-2a', 2, 'start', 'failed', '2026-09-02 07:00:05+00', '2026-09-02 07:00:35+00'),
    ('dr-2b', 2, 'resume', 'succeeded', '2026-09-02 07:00:45+00', '2026-09-02 07:01:05+00'),
    ('dr-3a', 3, 'start', 'failed', '2026-09-02 10:00:10+00', '2026-09-02 10:00:40+00'),
    ('dr-3b', 3, 'resume', 'failed', '2026-09-02 10:01:10+00', '2026-09-02 10:02:10+00'),
    ('dr-4', 4, 'start', 'succeeded', '2026-09-02 12:00:00+00', '2026-09-02 12:10:00+00'),
    ('dr-6', 6, 'start', 'succeeded', '2026-09-02 23:59:40+00', '2026-09-03 00:00:50+00'),
    ('dr-7', 7, 'start', 'running', '2026-09-02 14:00:05+00', NULL),
    ('dr-8', 8, 'start', 'succeeded', '2026-09-02 09:00:05+00', '2026-09-02 09:00:35+00'),
    ('dr-9', 9, 'start', 'succeeded', '2026-09-02 09:00:20+00', '2026-09-02 09:05:20+00'),
    ('dr-10a', 10, 'start', 'succeeded', '2026-09-03 04:30:20+00', '2026-09-03 04:30:50+00'),
    ('dr-10b', 10, 'continuation', 'succeeded', '2026-09-03 10:30:00+00',
     '2026-09-03 10:30:20+00'),
    ('dr-11a', 11, 'start', 'succeeded', '2026-09-03 06:00:30+00', '2026-09-03 06:01:00+00'),
    ('dr-11b', 11, 'continuation', 'succeeded', '2026-09-03 08:00:00+00',
     '2026-09-03 08:00:30+00'),
    ('dr-12', 12, 'start', 'failed', '2026-09-03 07:00:10+00', '2026-09-03 07:00:25+00'),
    ('dr-13', 13, 'start', 'succeeded', '2026-09-03 10:31:05+00', '2026-09-03 10:31:35+00'),
    ('dr-14', 14, 'start', 'failed', '2026-09-04 10:00:00+00', '2026-09-04 10:00:05+00')
) AS a (dagster_run_id, workflow_run_id, kind, status, started_at, finished_at)
"""

# Approvals. Procurement amounts sit on both sides of each band edge (10000, 50000, 100000,
# 250000); 3 was decided at its due time, 4 escalated and decided after it, 6 expired, 7 is
# pending (escalated), 9 was requested on 1 Sep UTC (00:30 at +01:00), 12 was decided an hour
# after the insert (after the cut-off: pending in the marts). Kickoffs (10-12) have no amount.
APPROVALS_SQL = """
INSERT INTO orchestrator.approvals (
    id, workflow_run_id, workflow, thread_id, interrupt_id, kind, proposal, reason,
    policy_snapshot, policy_version, policy_hash, approver_role, requested_by, due_at, status,
    decided_by, decided_at, escalated_at, created_at)
OVERRIDING SYSTEM VALUE
SELECT a.id, a.run_id, a.workflow, a.workflow || '/object-' || a.run_id, 'interrupt-' || a.id,
       a.kind,
       CASE WHEN a.amount IS NULL THEN '{"meeting": "kickoff"}'::jsonb
            ELSE jsonb_build_object('amount', a.amount::jsonb, 'currency', 'EUR',
                                    'cost_centre', jsonb_build_object('code', 'CC-1000'))
       END,
       'test', '{}', '2026-11-25.1', 'test', a.role, a.requested_by, a.due_at::timestamptz,
       a.status, a.decided_by, a.decided_at::timestamptz, a.escalated_at::timestamptz,
       a.created_at::timestamptz
FROM (VALUES
    (1, 8, 'procurement_approval', 'procurement', 'admin', '"9999.99"', 'hubspot:userId:45678',
     'approved', '2026-09-02 09:00:10+00', '2026-09-04 09:00:10+00',
     'user:alice@example.com', '2026-09-02 11:00:10+00', NULL),
    (2, 8, 'procurement_approval', 'procurement', 'admin', '"10000"', 'hubspot:userId:45678',
     'approved', '2026-09-02 10:00:00+00', '2026-09-04 10:00:00+00',
     'user:alice@example.com', '2026-09-02 14:00:00+00', NULL),
    (3, 8, 'procurement_approval', 'procurement', 'admin', '"49999.99"', 'hubspot:userId:45678',
     'rejected', '2026-09-02 10:30:00+00', '2026-09-03 10:30:00+00',
     'user:bob@example.com', '2026-09-03 10:30:00+00', NULL),
    (4, 10, 'procurement_approval', 'procurement', 'admin', '"50000.00"', 'hubspot:userId:45678',
     'approved', '2026-09-02 11:00:00+00', '2026-09-04 11:00:00+00',
     'user:bob@example.com', '2026-09-05 11:00:00+00', '2026-09-04 07:00:00+00'),
    (5, 10, 'procurement_approval', 'procurement', 'admin', '"99999.99"', 'hubspot:userId:45678',
     'approved', '2026-09-03 08:00:00+00', '2026-09-05 08:00:00+00',
     'user:alice@example.com', '2026-09-03 09:30:00+00', NULL),
    (6, 11, 'procurement_approval', 'procurement', 'admin', '"100000"', 'hubspot:userId:45678',
     'expired', '2026-09-03 09:00:00+00', '2026-09-05 09:00:00+00',
     'schedule', '2026-09-05 09:00:00+00', NULL),
    (7, 11, 'procurement_approval', 'procurement', 'admin', '"249999.99"',
     'hubspot:userId:45678', 'pending', '2026-09-03 12:00:00+00', '2026-09-05 12:00:00+00',
     NULL, NULL, '2026-09-05 08:00:00+00'),
    (8, 11, 'procurement_approval', 'procurement', 'admin', '250000', 'hubspot:userId:45678',
     'approved', '2026-09-03 13:00:00+00', '2026-09-05 13:00:00+00',
     'user:carol@example.com', '2026-09-03 20:00:00+01', NULL),
    (9, 8, 'procurement_approval', 'procurement', 'admin', '"60000"', 'hubspot:userId:45678',
     'rejected', '2026-09-02 00:30:00+01', '2026-09-03 23:30:00+00',
     'user:carol@example.com', '2026-09-02 04:30:00+00', NULL),
    (10, 9, 'deal_kickoff', 'kickoff', 'operator', NULL, NULL,
     'approved', '2026-09-02 09:05:00+00', '2026-09-03 09:05:00+00',
     'user:dave@example.com', '2026-09-02 09:35:00+00', NULL),
    (11, 9, 'deal_kickoff', 'kickoff', 'operator', NULL, NULL,
     'rejected', '2026-09-02 15:00:00+00', '2026-09-03 15:00:00+00',
     'user:dave@example.com', '2026-09-02 18:00:00+00', NULL),
    (12, 9, 'deal_kickoff', 'kickoff', 'operator', NULL, NULL,
     'approved', '2026-09-03 10:00:00+00', '2026-09-04 10:00:00+00',
     'user:dave@example.com', (now() + interval '1 hour')::text, NULL)
) AS a (id, run_id, workflow, kind, role, amount, requested_by, status, created_at, due_at,
        decided_by, decided_at, escalated_at)
"""

# Exceptions 1-6 opened and resolved at fixed times (2 resolved 23:00 UTC on 2 Sep, 6 opened
# 22:00 UTC on 2 Sep); 7-13 opened relative to the database clock (far from the age bands'
# edges), 10 resolved an hour after the insert (open at the cut-off).
EXCEPTIONS_SQL = """
INSERT INTO orchestrator.exceptions (
    id, dedup_key, kind, severity, message, workflow, workflow_run_id, status, occurrences,
    opened_at, last_seen_at, resolved_at, resolved_by)
OVERRIDING SYSTEM VALUE
SELECT x.id, 'dedup-' || x.id, x.kind, x.severity, 'test', x.workflow, x.run_id,
       CASE WHEN x.resolved_at IS NULL THEN 'open' ELSE 'resolved' END, x.occurrences,
       x.opened_at::timestamptz, x.opened_at::timestamptz, x.resolved_at::timestamptz,
       x.resolved_by
FROM (VALUES
    (1, 'data_quality', 'warning', 'company_intake', 3::bigint, 1,
     '2026-09-02 10:00:00+00', '2026-09-02 16:00:00+00', 'user:alice@example.com'),
    (2, 'data_quality', 'warning', 'company_intake', 4, 2,
     '2026-09-02 12:00:00+00', '2026-09-03 00:00:00+01', 'user:bob@example.com'),
    (3, 'data_quality', 'warning', 'company_intake', NULL, 1,
     '2026-09-02 13:00:00+00', '2026-09-02 15:00:00+00', 'user:alice@example.com'),
    (4, 'vendor_error', 'error', 'procurement_approval', 12, 1,
     '2026-09-03 08:00:00+00', '2026-09-04 08:00:00+00', 'user:bob@example.com'),
    (5, 'vendor_error', 'error', 'procurement_approval', NULL, 1,
     '2026-09-03 09:00:00+00', '2026-09-03 12:00:00+00', 'user:bob@example.com'),
    (6, 'data_quality', 'warning', 'company_intake', NULL, 1,
     '2026-09-03 01:00:00+03', '2026-09-03 02:00:00+00', 'user:alice@example.com'),
    (7, 'ambiguous_title', 'info', 'company_intake', NULL, 1,
     (now() - interval '20 minutes')::text, NULL, NULL),
    (8, 'data_quality', 'error', 'company_intake', NULL, 3,
     (now() - interval '2 hours')::text, NULL, NULL),
    (9, 'data_quality', 'error', 'company_intake', NULL, 2,
     (now() - interval '3 hours')::text, NULL, NULL),
    (10, 'approval_overdue', 'warning', 'procurement_approval', NULL, 1,
     (now() - interval '5 hours')::text, (now() + interval '1 hour')::text,
     'user:bob@example.com'),
    (11, 'vendor_error', 'warning', 'procurement_approval', NULL, 1,
     (now() - interval '72 hours')::text, NULL, NULL),
    (12, 'vendor_error', 'critical', 'procurement_approval', NULL, 4,
     (now() - interval '240 hours')::text, NULL, NULL),
    (13, 'budget_overrun', 'critical', 'procurement_approval', NULL, 2,
     (now() - interval '960 hours')::text, NULL, NULL)
) AS x (id, kind, severity, workflow, run_id, occurrences, opened_at, resolved_at, resolved_by)
"""

# The side-effect ledger: 3 is 14:00 UTC, 4 is 22:30 UTC on 2 Sep; 8 is after the cut-off.
SIDE_EFFECTS_SQL = """
INSERT INTO orchestrator.side_effects (
    thread_id, step, target, status, attempts, created_at, updated_at)
SELECT s.thread_id, s.step, s.target, s.status, s.attempts, s.created_at::timestamptz,
       s.created_at::timestamptz
FROM (VALUES
    ('company_intake/company-9001', 'mirror_account', 'airtable:Accounts:9001', 'succeeded', 1,
     '2026-09-02 08:00:20+00'),
    ('company_intake/company-9001', 'create_sop', 'notion:pages:9001-sop', 'succeeded', 2,
     '2026-09-02 08:00:25+00'),
    ('company_intake/company-9002', 'mirror_account', 'airtable:Accounts:9002', 'failed', 5,
     '2026-09-02 11:00:00-03'),
    ('company_intake/company-9003', 'mirror_account', 'airtable:Accounts:9003', 'succeeded', 1,
     '2026-09-03 00:30:00+02'),
    ('deal_kickoff/deal-5001', 'book_meeting', 'google:calendar:evt-5001', 'succeeded', 1,
     '2026-09-02 09:05:00+00'),
    ('procurement_approval/deal-5002', 'note_decision', 'hubspot:deals:5002:note', 'pending', 0,
     '2026-09-03 10:00:00+00'),
    ('company_intake/company-9004', 'mirror_account', 'airtable:Accounts:9004', 'succeeded', 3,
     '2026-09-03 11:00:00+00'),
    ('company_intake/company-9005', 'mirror_account', 'airtable:Accounts:9005', 'succeeded', 1,
     (now() + interval '1 hour')::text)
) AS s (thread_id, step, target, status, attempts, created_at)
"""

# Budget commitments, fiscal years relative to the cut-off's year ({year}): CC-1000 in EUR
# (its budget's currency) and in USD, CC-2000 in two years, CC-7777 not in the policy, and a
# CC-3000 one after the cut-off.
COMMITMENTS_SQL = """
INSERT INTO orchestrator.budget_commitments (
    cost_centre, fiscal_year, purchase_order, deal_id, amount, currency, workflow_run_id,
    created_at)
SELECT c.cost_centre, c.fiscal_year, c.purchase_order, c.deal_id, c.amount, c.currency,
       c.run_id, c.created_at::timestamptz
FROM (VALUES
    ('CC-1000', {year}, 'PO-1', 5002, 12000.50, 'EUR', 10::bigint, '2026-09-03 10:30:00+00'),
    ('CC-1000', {year}, 'PO-2', 5003, 30000.00, 'EUR', 11, '2026-09-03 08:00:30+00'),
    ('CC-1000', {year}, 'PO-3', 5004, 5000.00, 'USD', NULL, '2026-09-03 09:00:00+00'),
    ('CC-2000', {year}, 'PO-4', 5005, 250000.00, 'USD', NULL, '2026-09-03 09:30:00+00'),
    ('CC-2000', {year} - 1, 'PO-5', 5006, 100000.00, 'USD', NULL, '2025-12-15 12:00:00+00'),
    ('CC-7777', {year}, 'PO-6', 5007, 1000.00, 'EUR', NULL, '2026-09-03 11:00:00+00'),
    ('CC-3000', {year}, 'PO-7', 5008, 999.00, 'EUR', NULL, (now() + interval '1 hour')::text)
) AS c (cost_centre, fiscal_year, purchase_order, deal_id, amount, currency, run_id,
        created_at)
"""

# Audit rows (the insert trigger gives seq and the hash chain): 4 is 23:30 UTC on 2 Sep, 5 is
# 01:30 UTC on 3 Sep, 7 is after the cut-off.
AUDIT_SQL = """
INSERT INTO orchestrator.audit_log (occurred_at, actor, action, entity_type, entity_id)
SELECT a.occurred_at::timestamptz, a.actor, a.action, a.entity_type, a.entity_id
FROM (VALUES
    ('2026-09-02 11:00:10+00', 'user:alice@example.com', 'approval.approved', 'approval', '1'),
    ('2026-09-02 14:00:00+00', 'user:alice@example.com', 'approval.approved', 'approval', '2'),
    ('2026-09-03 10:30:00+00', 'user:bob@example.com', 'approval.rejected', 'approval', '3'),
    ('2026-09-03 00:30:00+01', 'system', 'workflow_run.requested', 'workflow_run', '6'),
    ('2026-09-02 23:30:00-02', 'system', 'workflow_run.requested', 'workflow_run', '10'),
    ('2026-09-05 09:00:00+00', 'schedule', 'approval.expired', 'approval', '6'),
    ((now() + interval '1 hour')::text, 'system', 'workflow_run.requested', 'workflow_run', '15')
) AS a (occurred_at, actor, action, entity_type, entity_id)
"""


@dataclass(frozen=True)
class Built:
    """The main dataset's build: the published file, the build's report, the database's clock
    when the rows were inserted (UTC) and its year (the commitments' fiscal year)."""

    path: Path
    report: BuildReport
    inserted_at: datetime
    year: int


@pytest.fixture(scope="module")
def built(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Empty the tables, insert the dataset in one transaction, build the marts once."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        empty_tables(conn)
        with conn.transaction():
            row = conn.execute("SELECT now()").fetchone()
            assert row is not None
            inserted_at: datetime = row[0].astimezone(UTC)
            for statement in (
                ENVELOPES_SQL,
                RUNS_SQL,
                ATTEMPTS_SQL,
                APPROVALS_SQL,
                EXCEPTIONS_SQL,
                SIDE_EFFECTS_SQL,
                COMMITMENTS_SQL.replace("{year}", str(inserted_at.year)),
                AUDIT_SQL,
            ):
                conn.execute(statement)
    path = tmp_path_factory.mktemp("marts") / "kpis.duckdb"
    report = build_marts(database_url, POLICY, path)
    return Built(path=path, report=report, inserted_at=inserted_at, year=inserted_at.year)


# --- Reading the marts ------------------------------------------------------------------------


def query(path: Path, sql: str) -> list[Row]:
    with connect(path, read_only=True) as conn:
        return conn.execute(sql).fetchall()


def read_mart(path: Path, name: str, columns: Sequence[str], key: int) -> Table:
    """marts.<name> as {its first `key` columns (the grain): the others}; the mart must have
    exactly `columns`, so no figure goes unchecked."""
    with connect(path, read_only=True) as conn:
        cursor = conn.execute(f"SELECT * FROM marts.{name} LIMIT 0")
        assert sorted(c[0] for c in cursor.description or ()) == sorted(columns), name
        rows = conn.execute(f"SELECT {', '.join(columns)} FROM marts.{name}").fetchall()
    table = {row[:key]: row[key:] for row in rows}
    assert len(table) == len(rows), f"{name}: two rows share a grain"
    return table


def near(expected: Any) -> Any:
    """`expected` with each float (in dicts, lists, tuples) compared to 1e-6 relative, every
    other value (counts, decimals, labels, days, times, nulls) exactly."""
    if isinstance(expected, float):
        return pytest.approx(expected)
    if isinstance(expected, dict):
        return {name: near(value) for name, value in expected.items()}
    if isinstance(expected, tuple | list):
        return type(expected)(near(value) for value in expected)
    return expected


def assert_table(actual: Table, expected: Table) -> None:
    """The same grains, and each row's figures equal."""
    assert set(actual) == set(expected)
    for key, figures in expected.items():
        assert actual[key] == near(figures), key


# --- Workflow runs ----------------------------------------------------------------------------


def test_workflow_runs_daily(built: Built) -> None:
    """Runs per UTC day x workflow x status x outcome (outcome falls back to the status), with
    the finished runs' mean, p50 and p95 duration from their first start, and the mean time
    their Dagster attempts worked."""
    columns = [
        "run_date", "workflow", "status", "outcome", "runs", "finished_runs",
        "avg_duration_seconds", "p50_duration_seconds", "p95_duration_seconds",
        "avg_working_seconds",
    ]  # fmt: skip
    none = (None, None, None)
    assert_table(
        read_mart(built.path, "workflow_runs_daily", columns, key=4),
        {
            # Runs 1, 2, 6: 30, 60, 70 s; p95 at 1.9: 60 + 0.9 * 10. Worked 30, 50, 70.
            (SEP2, CI, "succeeded", "mirrored"): (3, 3, 160 / 3, 60.0, 69.0, 50.0),
            (SEP2, CI, "succeeded", "needs_review"): (1, 1, 600.0, 600.0, 600.0, 600.0),
            (SEP2, CI, "failed", "failed"): (1, 1, 120.0, 120.0, 120.0, 90.0),
            (SEP2, CI, "requested", "requested"): (1, 0, *none, None),
            (SEP2, CI, "running", "running"): (1, 0, *none, None),
            (SEP2, PA, "awaiting_approval", "awaiting_approval"): (1, 0, *none, 30.0),
            (SEP2, DK, "succeeded", "booked"): (1, 1, 300.0, 300.0, 300.0, 300.0),
            (SEP3, PA, "succeeded", "approved"): (1, 1, 21600.0, 21600.0, 21600.0, 50.0),
            (SEP3, PA, "succeeded", "rejected"): (1, 1, 7200.0, 7200.0, 7200.0, 60.0),
            (SEP3, PA, "failed", "failed"): (1, 1, 15.0, 15.0, 15.0, 15.0),
            (SEP3, DK, "succeeded", "booked"): (1, 1, 30.0, 30.0, 30.0, 30.0),
            (SEP4, CRM, "failed", "failed"): (1, 1, 5.0, 5.0, 5.0, 5.0),
        },
    )


def test_workflow_execution_daily(built: Built) -> None:
    """Per UTC day x workflow: runs by state, success and failure rates over the finished runs
    (null when none finished), p50/p95 duration of the finished runs."""
    columns = [
        "run_date", "workflow", "runs", "succeeded", "failed", "awaiting_approval", "in_progress",
        "success_rate", "failure_rate", "p50_duration_seconds", "p95_duration_seconds",
    ]  # fmt: skip
    assert_table(
        read_mart(built.path, "workflow_execution_daily", columns, key=2),
        {
            # Finished: 30, 60, 70, 120, 600 s; p95 at 3.8: 120 + 0.8 * 480.
            (SEP2, CI): (7, 4, 1, 0, 2, 0.8, 0.2, 70.0, 504.0),
            (SEP2, PA): (1, 0, 0, 1, 0, None, None, None, None),
            (SEP2, DK): (1, 1, 0, 0, 0, 1.0, 0.0, 300.0, 300.0),
            # 15, 7200, 21600 s; p95 at 1.9: 7200 + 0.9 * 14400.
            (SEP3, PA): (3, 2, 1, 0, 0, 2 / 3, 1 / 3, 7200.0, 20160.0),
            (SEP3, DK): (1, 1, 0, 0, 0, 1.0, 0.0, 30.0, 30.0),
            (SEP4, CRM): (1, 0, 1, 0, 0, 0.0, 1.0, 5.0, 5.0),
        },
    )


def test_fct_workflow_runs(built: Built) -> None:
    """One row per run requested before the cut-off, with its day, duration from the first
    start, attempts and the seconds they worked (running attempts count, work none)."""
    columns = [
        "workflow_run_id", "workflow", "trigger_source", "parent_run_id", "batch_id", "status",
        "outcome", "run_date", "duration_seconds", "attempts", "working_seconds", "is_finished",
    ]  # fmt: skip
    table = {
        row[0]: row[1:]
        for row in query(built.path, f"SELECT {', '.join(columns)} FROM marts.fct_workflow_runs")
    }
    hub = "hubspot"
    expected: dict[int, Row] = {
        1: (CI, hub, None, None, "succeeded", "mirrored", SEP2, 30.0, 1, 30.0, True),
        2: (CI, hub, None, None, "succeeded", "mirrored", SEP2, 60.0, 2, 50.0, True),
        3: (CI, hub, None, None, "failed", "failed", SEP2, 120.0, 2, 90.0, True),
        4: (CI, hub, None, None, "succeeded", "needs_review", SEP2, 600.0, 1, 600.0, True),
        5: (CI, hub, None, None, "requested", "requested", SEP2, None, 0, None, False),
        6: (CI, hub, None, None, "succeeded", "mirrored", SEP2, 70.0, 1, 70.0, True),
        7: (CI, hub, None, None, "running", "running", SEP2, None, 1, None, False),
        8: (PA, hub, None, None, "awaiting_approval", "awaiting_approval", SEP2, None, 1, 30.0,
            False),
        9: (DK, hub, None, None, "succeeded", "booked", SEP2, 300.0, 1, 300.0, True),
        10: (PA, hub, None, None, "succeeded", "approved", SEP3, 21600.0, 2, 50.0, True),
        11: (PA, hub, None, None, "succeeded", "rejected", SEP3, 7200.0, 2, 60.0, True),
        12: (PA, hub, None, None, "failed", "failed", SEP3, 15.0, 1, 15.0, True),
        13: (DK, "workflow", 10, None, "succeeded", "booked", SEP3, 30.0, 1, 30.0, True),
        14: (CRM, hub, None, None, "failed", "failed", SEP4, 5.0, 1, 5.0, True),
    }  # fmt: skip
    assert set(table) == set(expected)
    for run_id, figures in expected.items():
        assert table[run_id] == near(figures), run_id


# --- Approvals --------------------------------------------------------------------------------

# fct_approvals by approval id: workflow_run_id, workflow, kind, approver_role, decision,
# is_decided, is_expired, is_escalated, decided_before_due, amount, currency, amount_band,
# cost_centre, requested_by, decided_by, requested_date, requested_at, due_at, decided_at,
# escalated_at, hours_to_decision.
PROCUREMENT = (PA, "procurement", "admin")
KICKOFF = (DK, "kickoff", "operator")
EUR = ("EUR",)
FCT_APPROVALS: dict[int, Row] = {
    1: (8, *PROCUREMENT, "approved", True, False, False, True, Decimal("9999.99"), *EUR,
        "< 10000", "CC-1000", HUBSPOT_USER, ALICE, SEP2, ts("2026-09-02 09:00:10"),
        ts("2026-09-04 09:00:10"), ts("2026-09-02 11:00:10"), None, 2.0),
    2: (8, *PROCUREMENT, "approved", True, False, False, True, Decimal("10000"), *EUR,
        "10000 to < 50000", "CC-1000", HUBSPOT_USER, ALICE, SEP2, ts("2026-09-02 10:00"),
        ts("2026-09-04 10:00"), ts("2026-09-02 14:00"), None, 4.0),
    # Decided at its due time: in time.
    3: (8, *PROCUREMENT, "rejected", True, False, False, True, Decimal("49999.99"), *EUR,
        "10000 to < 50000", "CC-1000", HUBSPOT_USER, BOB, SEP2, ts("2026-09-02 10:30"),
        ts("2026-09-03 10:30"), ts("2026-09-03 10:30"), None, 24.0),
    # Decided a day after its due time, escalated before it.
    4: (10, *PROCUREMENT, "approved", True, False, True, False, Decimal("50000"), *EUR,
        "50000 to < 100000", "CC-1000", HUBSPOT_USER, BOB, SEP2, ts("2026-09-02 11:00"),
        ts("2026-09-04 11:00"), ts("2026-09-05 11:00"), ts("2026-09-04 07:00"), 72.0),
    5: (10, *PROCUREMENT, "approved", True, False, False, True, Decimal("99999.99"), *EUR,
        "50000 to < 100000", "CC-1000", HUBSPOT_USER, ALICE, SEP3, ts("2026-09-03 08:00"),
        ts("2026-09-05 08:00"), ts("2026-09-03 09:30"), None, 1.5),
    # Expired at its due time: decided, not before due.
    6: (11, *PROCUREMENT, "expired", True, True, False, False, Decimal("100000"), *EUR,
        "100000 to < 250000", "CC-1000", HUBSPOT_USER, "schedule", SEP3,
        ts("2026-09-03 09:00"), ts("2026-09-05 09:00"), ts("2026-09-05 09:00"), None, 48.0),
    7: (11, *PROCUREMENT, "pending", False, False, True, False, Decimal("249999.99"), *EUR,
        "100000 to < 250000", "CC-1000", HUBSPOT_USER, None, SEP3, ts("2026-09-03 12:00"),
        ts("2026-09-05 12:00"), None, ts("2026-09-05 08:00"), None),
    8: (11, *PROCUREMENT, "approved", True, False, False, True, Decimal("250000"), *EUR,
        ">= 250000", "CC-1000", HUBSPOT_USER, CAROL, SEP3, ts("2026-09-03 13:00"),
        ts("2026-09-05 13:00"), ts("2026-09-03 19:00"), None, 6.0),
    # Requested 00:30 at +01:00: 23:30 UTC the day before.
    9: (8, *PROCUREMENT, "rejected", True, False, False, True, Decimal("60000"), *EUR,
        "50000 to < 100000", "CC-1000", HUBSPOT_USER, CAROL, SEP1, ts("2026-09-01 23:30"),
        ts("2026-09-03 23:30"), ts("2026-09-02 04:30"), None, 5.0),
    10: (9, *KICKOFF, "approved", True, False, False, True, None, None, "no amount", None,
         None, DAVE, SEP2, ts("2026-09-02 09:05"), ts("2026-09-03 09:05"),
         ts("2026-09-02 09:35"), None, 0.5),
    11: (9, *KICKOFF, "rejected", True, False, False, True, None, None, "no amount", None,
         None, DAVE, SEP2, ts("2026-09-02 15:00"), ts("2026-09-03 15:00"),
         ts("2026-09-02 18:00"), None, 3.0),
    # Decided after the cut-off: pending, no decider, no hours.
    12: (9, *KICKOFF, "pending", False, False, False, False, None, None, "no amount", None,
         None, None, SEP3, ts("2026-09-03 10:00"), ts("2026-09-04 10:00"), None, None, None),
}  # fmt: skip


def test_fct_approvals(built: Built) -> None:
    """Every approval: its decision at the cut-off, the flags, the amount band (lower edges
    inclusive), UTC times and the hours from request to decision."""
    columns = [
        "approval_id", "workflow_run_id", "workflow", "kind", "approver_role", "decision",
        "is_decided", "is_expired", "is_escalated", "decided_before_due", "amount", "currency",
        "amount_band", "cost_centre", "requested_by", "decided_by", "requested_date",
        "requested_at", "due_at", "decided_at", "escalated_at", "hours_to_decision",
    ]  # fmt: skip
    expected = {(approval_id,): row for approval_id, row in FCT_APPROVALS.items()}
    assert_table(read_mart(built.path, "fct_approvals", columns, key=1), expected)


def test_amount_band_edges(built: Built) -> None:
    """Each band's lower edge is inclusive: 9,999.99 is below 10,000, 49,999.99 in the band
    below 50,000, 50,000 in the band from 50,000, and so on up to 250,000."""
    bands: dict[Decimal | None, str] = dict(
        query(built.path, "SELECT amount, amount_band FROM marts.fct_approvals")
    )
    assert bands == {
        None: "no amount",
        Decimal("9999.99"): "< 10000",
        Decimal("10000"): "10000 to < 50000",
        Decimal("49999.99"): "10000 to < 50000",
        Decimal("50000"): "50000 to < 100000",
        Decimal("60000"): "50000 to < 100000",
        Decimal("99999.99"): "50000 to < 100000",
        Decimal("100000"): "100000 to < 250000",
        Decimal("249999.99"): "100000 to < 250000",
        Decimal("250000"): ">= 250000",
    }


def test_approval_turnaround(built: Built) -> None:
    """Per workflow x role x decision x band: counts, hours to decision (pending: none), the
    shares decided before due (of the decided; null when none) and escalated."""
    columns = [
        "workflow", "approver_role", "decision", "amount_band", "approvals", "decided",
        "avg_hours_to_decision", "p50_hours_to_decision", "p95_hours_to_decision",
        "decided_before_due", "escalated", "share_decided_before_due", "share_escalated",
    ]  # fmt: skip
    admin, operator = (PA, "admin"), (DK, "operator")
    assert_table(
        read_mart(built.path, "approval_turnaround", columns, key=4),
        {
            (*admin, "approved", "< 10000"): (1, 1, 2.0, 2.0, 2.0, 1, 0, 1.0, 0.0),
            (*admin, "approved", "10000 to < 50000"): (1, 1, 4.0, 4.0, 4.0, 1, 0, 1.0, 0.0),
            (*admin, "rejected", "10000 to < 50000"): (1, 1, 24.0, 24.0, 24.0, 1, 0, 1.0, 0.0),
            # 72 h (late, escalated) and 1.5 h; p95 at 0.95: 1.5 + 0.95 * 70.5.
            (*admin, "approved", "50000 to < 100000"): (
                2, 2, 36.75, 36.75, 68.475, 1, 1, 0.5, 0.5,
            ),
            (*admin, "rejected", "50000 to < 100000"): (1, 1, 5.0, 5.0, 5.0, 1, 0, 1.0, 0.0),
            (*admin, "expired", "100000 to < 250000"): (
                1, 1, 48.0, 48.0, 48.0, 0, 0, 0.0, 0.0,
            ),
            (*admin, "pending", "100000 to < 250000"): (
                1, 0, None, None, None, 0, 1, None, 1.0,
            ),
            (*admin, "approved", ">= 250000"): (1, 1, 6.0, 6.0, 6.0, 1, 0, 1.0, 0.0),
            (*operator, "approved", "no amount"): (1, 1, 0.5, 0.5, 0.5, 1, 0, 1.0, 0.0),
            (*operator, "rejected", "no amount"): (1, 1, 3.0, 3.0, 3.0, 1, 0, 1.0, 0.0),
            (*operator, "pending", "no amount"): (1, 0, None, None, None, 0, 0, None, 0.0),
        },
    )  # fmt: skip


def test_approval_deciders(built: Built) -> None:
    """Per person x workflow x role: the approvals they approved or rejected (expiries and
    decisions after the cut-off left out), their hours and the share decided before due."""
    columns = [
        "decided_by", "workflow", "approver_role", "decisions", "approved", "rejected",
        "avg_hours_to_decision", "p50_hours_to_decision", "share_decided_before_due",
    ]  # fmt: skip
    assert_table(
        read_mart(built.path, "approval_deciders", columns, key=3),
        {
            (ALICE, PA, "admin"): (3, 3, 0, 2.5, 2.0, 1.0),  # 2, 4, 1.5 h
            (BOB, PA, "admin"): (2, 1, 1, 48.0, 48.0, 0.5),  # 24 h, 72 h (late)
            (CAROL, PA, "admin"): (2, 1, 1, 5.5, 5.5, 1.0),  # 6 h, 5 h
            (DAVE, DK, "operator"): (2, 1, 1, 1.75, 1.75, 1.0),  # 0.5 h, 3 h
        },
    )


def test_pending_approval_is_not_decided(built: Built) -> None:
    """An approval still pending, and one decided after the cut-off, count as requested and
    pending, never as decided: no decider, decision time or hours, not decided before due."""
    rows = query(
        built.path,
        "SELECT approval_id, decision, is_decided, decided_before_due, decided_by, decided_at,"
        " hours_to_decision FROM marts.fct_approvals WHERE NOT is_decided ORDER BY 1",
    )
    assert rows == [
        (7, "pending", False, False, None, None, None),
        (12, "pending", False, False, None, None, None),
    ]
    deciders = query(built.path, "SELECT sum(decisions) FROM marts.approval_deciders")
    assert deciders == [(9,)]  # 10 decided, less the expiry


# --- Exceptions -------------------------------------------------------------------------------

# Open at the cut-off, opened relative to the insert: (age, kind, severity, occurrences).
OPEN_EXCEPTIONS = [
    (timedelta(minutes=20), "ambiguous_title", "info", 1),
    (timedelta(hours=2), "data_quality", "error", 3),
    (timedelta(hours=3), "data_quality", "error", 2),
    (timedelta(hours=5), "approval_overdue", "warning", 1),  # resolved after the cut-off
    (timedelta(hours=72), "vendor_error", "warning", 1),
    (timedelta(hours=240), "vendor_error", "critical", 4),
    (timedelta(hours=960), "budget_overrun", "critical", 2),
]


def test_exceptions_daily(built: Built) -> None:
    """Per UTC day x kind x severity: opened, resolved, and the mean and p50 hours to resolve
    of those resolved that day; one resolved after the cut-off counts as open."""
    columns = [
        "day", "kind", "severity", "opened", "resolved", "avg_hours_to_resolve",
        "p50_hours_to_resolve",
    ]  # fmt: skip
    expected: Table = {
        # Opened 1, 2, 3, 6 (22:00 UTC); resolved 1 (6 h), 2 (11 h, 23:00 UTC), 3 (2 h).
        (SEP2, "data_quality", "warning"): (4, 3, 19 / 3, 6.0),
        (SEP3, "data_quality", "warning"): (0, 1, 4.0, 4.0),  # 6, after 4 h
        (SEP3, "vendor_error", "error"): (2, 1, 3.0, 3.0),  # 4 and 5 opened, 5 resolved
        (SEP4, "vendor_error", "error"): (0, 1, 24.0, 24.0),  # 4
    }
    # The kinds and severities of the open ones appear on no other row: only their days vary.
    opened = Counter(
        ((built.inserted_at - age).date(), kind, severity)
        for age, kind, severity, _ in OPEN_EXCEPTIONS
    )
    expected.update({key: (count, 0, None, None) for key, count in opened.items()})
    assert_table(read_mart(built.path, "exceptions_daily", columns, key=3), expected)


def test_exception_backlog(built: Built) -> None:
    """Exceptions open at the cut-off by kind x severity x age band (age up to the cut-off),
    with their occurrences and the oldest opening; resolved ones are not in it."""
    columns = ["kind", "severity", "age_band", "open_exceptions", "occurrences", "oldest_opened_at"]

    def opened(hours: int = 0, minutes: int = 0) -> datetime:
        return (built.inserted_at - timedelta(hours=hours, minutes=minutes)).replace(tzinfo=None)

    assert_table(
        read_mart(built.path, "exception_backlog", columns, key=3),
        {
            ("ambiguous_title", "info", "< 1 hour"): (1, 1, opened(minutes=20)),
            ("data_quality", "error", "1 to < 24 hours"): (2, 5, opened(3)),
            ("approval_overdue", "warning", "1 to < 24 hours"): (1, 1, opened(5)),
            ("vendor_error", "warning", "1 to < 7 days"): (1, 1, opened(72)),
            ("vendor_error", "critical", "7 to < 30 days"): (1, 4, opened(240)),
            ("budget_overrun", "critical", ">= 30 days"): (1, 2, opened(960)),
        },
    )


# --- Events -----------------------------------------------------------------------------------


def test_fct_event_runs(built: Built) -> None:
    """Each event x the run it started (child runs left out, runs after the cut-off too): the
    UTC day of receipt and the seconds from receipt to the run's start and end."""
    columns = [
        "envelope_id", "workflow_run_id", "workflow", "subscription_type", "received_date",
        "received_at", "requested_at", "started_at", "finished_at", "seconds_to_start",
        "seconds_to_finish",
    ]  # fmt: skip
    table = read_mart(built.path, "fct_event_runs", columns, key=2)
    figures = {key: (row[:3], row[-2:]) for key, row in table.items()}
    created, change, deal = ("company.creation", "company.propertyChange", "deal.propertyChange")
    expected: dict[Row, tuple[Row, Row]] = {
        (1, 1): ((CI, created, SEP2), (10.0, 40.0)),
        (2, 2): ((CI, change, SEP2), (5.0, 65.0)),
        (7, 3): ((CI, created, SEP2), (20.0, 140.0)),
        (8, 4): ((CI, created, SEP2), (60.0, 660.0)),
        (11, 5): ((CI, created, SEP2), (None, None)),
        (12, 6): ((CI, created, SEP2), (12.0, 82.0)),
        (13, 7): ((CI, created, SEP2), (6.0, None)),
        (6, 8): ((PA, deal, SEP2), (10.0, None)),
        (6, 9): ((DK, deal, SEP2), (25.0, 325.0)),
        (4, 10): ((PA, deal, SEP3), (20.0, 21620.0)),
        (9, 11): ((PA, deal, SEP3), (60.0, 7260.0)),
        (10, 12): ((PA, deal, SEP3), (30.0, 45.0)),
    }
    assert set(figures) == set(expected)
    for key, (labels, seconds) in expected.items():
        assert figures[key][0] == labels, key
        assert figures[key][1] == near(seconds), key
    # Received 23:30 at -05:00 (04:30 UTC next day); the run's times in UTC.
    assert table[(4, 10)][3:7] == (
        ts("2026-09-03 04:30:00"),
        ts("2026-09-03 04:30:10"),
        ts("2026-09-03 04:30:20"),
        ts("2026-09-03 10:30:20"),
    )


def test_event_latency_daily(built: Built) -> None:
    """Per UTC day of receipt x workflow: event x run pairs, how many started and finished,
    p50/p95 seconds from receipt to start and to end (null when none)."""
    columns = [
        "received_date", "workflow", "events", "started", "finished", "p50_seconds_to_start",
        "p95_seconds_to_start", "p50_seconds_to_finish", "p95_seconds_to_finish",
    ]  # fmt: skip
    assert_table(
        read_mart(built.path, "event_latency_daily", columns, key=2),
        {
            # To start 5, 6, 10, 12, 20, 60 (p95 at 4.75: 20 + 0.75 * 40); to end 40, 65, 82,
            # 140, 660 (p95 at 3.8: 140 + 0.8 * 520).
            (SEP2, CI): (7, 6, 5, 11.0, 50.0, 82.0, 556.0),
            (SEP2, PA): (1, 1, 0, 10.0, 10.0, None, None),
            (SEP2, DK): (1, 1, 1, 25.0, 25.0, 325.0, 325.0),
            # To start 20, 30, 60 (p95 30 + 0.9 * 30); to end 45, 7260, 21620
            # (p95 7260 + 0.9 * 14360).
            (SEP3, PA): (3, 3, 3, 30.0, 57.0, 7260.0, 20184.0),
        },
    )


def test_events_daily(built: Built) -> None:
    """Events per UTC day of receipt x subscription type x status, each counted once, split
    into those that started a run and those that started none."""
    columns = [
        "received_date", "subscription_type", "status", "events", "events_with_run",
        "events_without_run",
    ]  # fmt: skip
    assert_table(
        read_mart(built.path, "events_daily", columns, key=3),
        {
            (SEP1, "contact.creation", "unrouted"): (1, 0, 1),  # 01:30 at +02:00
            (SEP2, "company.creation", "processed"): (3, 3, 0),
            (SEP2, "company.propertyChange", "processed"): (1, 1, 0),
            (SEP2, "company.creation", "failed"): (1, 1, 0),
            (SEP2, "company.creation", "dispatched"): (3, 2, 1),  # 16's run is after the cut-off
            (SEP2, "deal.propertyChange", "awaiting_approval"): (1, 1, 0),  # two runs, once
            (SEP2, "contact.propertyChange", "unrouted"): (1, 0, 1),
            (SEP3, "deal.propertyChange", "processed"): (2, 2, 0),  # 4 at 23:30 -05:00
            (SEP3, "deal.propertyChange", "failed"): (1, 1, 0),
            (SEP3, "deal.creation", "unrouted"): (1, 0, 1),
            (SEP3, "deal.propertyChange", "received"): (1, 0, 1),
        },
    )


def test_events_without_run(built: Built) -> None:
    """Unrouted events, one not yet dispatched and one whose run came after the cut-off are
    counted without a run and have no latency row."""
    without = query(
        built.path,
        "SELECT sum(events), sum(events_with_run), sum(events_without_run) FROM marts.events_daily",
    )
    assert without == [(16, 11, 5)]
    in_latency = query(built.path, "SELECT DISTINCT envelope_id FROM marts.fct_event_runs")
    assert {envelope_id for (envelope_id,) in in_latency}.isdisjoint({3, 5, 14, 15, 16})


# --- Writes, spend, audit ---------------------------------------------------------------------


def test_vendor_writes_daily(built: Built) -> None:
    """Ledger entries per UTC day x workflow (from the thread id) x vendor x resource (from the
    target) x status, with the requests they took."""
    columns = ["write_date", "workflow", "vendor", "resource", "status", "writes", "attempts"]
    assert_table(
        read_mart(built.path, "vendor_writes_daily", columns, key=5),
        {
            # 9001 and 9003 (00:30 at +02:00); 9002 at 11:00 -03:00.
            (SEP2, CI, "airtable", "Accounts", "succeeded"): (2, 2),
            (SEP2, CI, "airtable", "Accounts", "failed"): (1, 5),
            (SEP2, CI, "notion", "pages", "succeeded"): (1, 2),
            (SEP2, DK, "google", "calendar", "succeeded"): (1, 1),
            (SEP3, PA, "hubspot", "deals", "pending"): (1, 0),
            (SEP3, CI, "airtable", "Accounts", "succeeded"): (1, 3),
        },
    )


def test_spend_by_cost_centre(built: Built) -> None:
    """Committed spend per cost centre x fiscal year against the policy's budget: other
    currencies counted apart, policy centres without spend shown for the cut-off's year, a
    centre outside the policy shown without budget."""
    columns = [
        "cost_centre", "fiscal_year", "cost_centre_name", "in_policy", "budget_currency",
        "annual_budget", "commitments", "committed_amount", "commitments_other_currency",
        "remaining_budget", "share_committed",
    ]  # fmt: skip
    year = built.year
    assert_table(
        read_mart(built.path, "spend_by_cost_centre", columns, key=2),
        {
            ("CC-1000", year): (
                "Sales EMEA", True, "EUR", Decimal(1200000), 2, Decimal("42000.50"), 1,
                Decimal("1157999.50"), 42000.50 / 1200000,
            ),
            ("CC-2000", year - 1): (
                "Sales North America", True, "USD", Decimal(1500000), 1, Decimal(100000), 0,
                Decimal(1400000), 1 / 15,
            ),
            ("CC-2000", year): (
                "Sales North America", True, "USD", Decimal(1500000), 1, Decimal(250000), 0,
                Decimal(1250000), 1 / 6,
            ),
            ("CC-3000", year): (
                "Partnerships", True, "EUR", Decimal(400000), 0, Decimal(0), 0,
                Decimal(400000), 0.0,
            ),
            ("CC-9000", year): (
                "Central (unassigned)", True, "EUR", Decimal(250000), 0, Decimal(0), 0,
                Decimal(250000), 0.0,
            ),
            ("CC-7777", year): (None, False, None, None, 0, Decimal(0), 1, None, None),
        },
    )  # fmt: skip


def test_audit_actions_daily(built: Built) -> None:
    """Audit entries per UTC day x action x entity type x actor."""
    columns = ["day", "action", "entity_type", "actor", "actions"]
    assert_table(
        read_mart(built.path, "audit_actions_daily", columns, key=4),
        {
            (SEP2, "approval.approved", "approval", ALICE): (2,),
            (SEP2, "workflow_run.requested", "workflow_run", "system"): (1,),  # 00:30 +01:00
            (SEP3, "approval.rejected", "approval", BOB): (1,),
            (SEP3, "workflow_run.requested", "workflow_run", "system"): (1,),  # 23:30 -02:00
            (SEP5, "approval.expired", "approval", "schedule"): (1,),
        },
    )


# --- Edge cases on the main dataset -----------------------------------------------------------


def test_run_spanning_midnight(built: Built) -> None:
    """A run requested 23:59:30 UTC (00:59:30 at +01:00) and finished 00:00:50 UTC the next day
    counts on the day it was requested, for 70 s from its start (23:59:40 UTC)."""
    rows = query(
        built.path,
        "SELECT run_date, requested_at, started_at, finished_at, duration_seconds"
        " FROM marts.fct_workflow_runs WHERE workflow_run_id = 6",
    )
    assert rows == [
        (
            SEP2,
            ts("2026-09-02 23:59:30"),
            ts("2026-09-02 23:59:40"),
            ts("2026-09-03 00:00:50"),
            70.0,
        )
    ]
    sep3 = query(
        built.path,
        "SELECT workflow, runs FROM marts.workflow_execution_daily WHERE run_date = '2026-09-03'"
        " ORDER BY workflow",
    )
    assert sep3 == [(DK, 1), (PA, 3)]  # no company_intake run on 3 Sep


def test_offsets_land_on_their_utc_day(built: Built) -> None:
    """Times written with other offsets are held in UTC and count on their UTC day, whatever
    their local day: events, an exception's opening and resolution, an approval, a write."""
    assert query(
        built.path,
        "SELECT envelope_id, received_at, cast(received_at AS date) FROM staging.stg_envelopes"
        " WHERE envelope_id IN (2, 3, 4) ORDER BY 1",
    ) == [
        (2, ts("2026-09-02 07:00:00"), SEP2),  # 09:00 +02:00
        (3, ts("2026-09-01 23:30:00"), SEP1),  # 01:30 +02:00 on 2 Sep
        (4, ts("2026-09-03 04:30:00"), SEP3),  # 23:30 -05:00 on 2 Sep
    ]
    assert query(
        built.path,
        "SELECT exception_id, opened_date, resolved_date, resolved_at FROM marts.fct_exceptions"
        " WHERE exception_id IN (2, 6) ORDER BY 1",
    ) == [
        (2, SEP2, SEP2, ts("2026-09-02 23:00:00")),  # resolved 00:00 +01:00 on 3 Sep
        (6, SEP2, SEP3, ts("2026-09-03 02:00:00")),  # opened 01:00 +03:00 on 3 Sep
    ]
    assert query(
        built.path,
        "SELECT requested_date, requested_at FROM marts.fct_approvals WHERE approval_id = 9",
    ) == [(SEP1, ts("2026-09-01 23:30:00"))]  # 00:30 +01:00 on 2 Sep
    assert query(
        built.path,
        "SELECT created_at FROM staging.stg_side_effects WHERE target LIKE '%:9002' OR"
        " target LIKE '%:9003' ORDER BY 1",
    ) == [(ts("2026-09-02 14:00:00"),), (ts("2026-09-02 22:30:00"),)]


def test_rows_after_the_cut_off_are_left_out(built: Built) -> None:
    """Rows stamped after the build's cut-off (an hour after the insert) are not in the marts:
    the run, the ledger entry, the commitment and the audit entry; a decision or a resolution
    after it leaves the approval pending and the exception open."""
    report = built.report
    built_at = report.built_at.astimezone(UTC)
    # The cut-off is the database's clock at the build (at most 10 minutes earlier while
    # another transaction is open): before the late rows.
    assert built.inserted_at - timedelta(minutes=10) <= built_at
    assert built_at < built.inserted_at + timedelta(hours=1)
    assert query(built.path, "SELECT built_at FROM meta.build_info") == [
        (built_at.replace(tzinfo=None),)
    ]
    assert query(built.path, "SELECT max(workflow_run_id), count(*) FROM marts.fct_workflow_runs")[
        0
    ] == (14, 14)
    assert query(built.path, "SELECT sum(writes) FROM marts.vendor_writes_daily") == [(7,)]
    assert query(
        built.path,
        "SELECT commitments, commitments_other_currency FROM marts.spend_by_cost_centre"
        " WHERE cost_centre = 'CC-3000'",
    ) == [(0, 0)]
    assert query(built.path, "SELECT sum(actions) FROM marts.audit_actions_daily") == [(6,)]
    assert query(
        built.path, "SELECT decision, decided_by FROM marts.fct_approvals WHERE approval_id = 12"
    ) == [("pending", None)]
    assert query(
        built.path,
        "SELECT status, resolved_at, resolved_by FROM marts.fct_exceptions WHERE exception_id = 10",
    ) == [("open", None, None)]


# --- The headline KPIs ------------------------------------------------------------------------


def test_read_kpis_all_workflows(built: Built) -> None:
    """The headline figures over 2-3 Sep for every workflow, and the daily series."""
    kpis = read_kpis(built.path, SEP2, SEP3)
    assert kpis is not None
    assert kpis.period == Period(SEP2, SEP3) and kpis.workflow is None
    # Runs 1-13. Finished: 15, 30, 30, 60, 70, 120, 300, 600, 7200, 21600 s: p50 at 4.5,
    # p95 at 8.55: 7200 + 0.55 * 14400.
    assert kpis.runs == near(
        {
            "total": 13, "succeeded": 8, "failed": 2, "awaiting_approval": 1, "in_progress": 2,
            "success_rate": 0.8, "failure_rate": 0.2, "p50_duration_seconds": 95.0,
            "p95_duration_seconds": 15120.0,
        }
    )  # fmt: skip
    # Approvals 1-8, 10-12 (9 is on 1 Sep UTC). Hours 0.5, 1.5, 2, 3, 4, 6, 24, 48, 72: p50 4,
    # p95 at 7.6: 48 + 0.6 * 24. Before due: 1, 2, 3, 5, 8, 10, 11.
    assert kpis.approvals == near(
        {
            "requested": 11, "decided": 9, "approved": 6, "rejected": 2, "expired": 1,
            "pending": 2, "escalated": 2, "p50_hours_to_decision": 4.0,
            "p95_hours_to_decision": 62.4, "share_decided_before_due": 7 / 9,
            "share_expired": 1 / 9,
        }
    )  # fmt: skip
    # Opened 1-6; resolved 1, 2, 3, 5, 6 (2, 3, 4, 6, 11 h); open at the build 7-13.
    assert kpis.exceptions == near(
        {"opened": 6, "resolved": 5, "open_at_build": 7, "p50_hours_to_resolve": 4.0}
    )
    # 12 event x run pairs. To start: 5, 6, 10, 10, 12, 20, 20, 25, 30, 60, 60; to end: 40, 45,
    # 65, 82, 140, 325, 660, 7260, 21620 (p95 at 7.6: 7260 + 0.6 * 14360).
    assert kpis.latency == near(
        {
            "events": 12, "started": 11, "p50_seconds_to_start": 20.0,
            "p95_seconds_to_start": 60.0, "p50_seconds_to_finish": 140.0,
            "p95_seconds_to_finish": 15876.0,
        }
    )  # fmt: skip
    assert kpis.vendor_writes == [
        {"vendor": "airtable", "writes": 4, "failed": 1},
        {"vendor": "google", "writes": 1, "failed": 0},
        {"vendor": "hubspot", "writes": 1, "failed": 0},
        {"vendor": "notion", "writes": 1, "failed": 0},
    ]
    # Hours to decision, procurement: 1.5, 2, 4, 6, 24, 48 (6, expired), 72; 7 pending.
    # Kickoffs: 0.5, 3; 12 decided after the cut-off.
    assert kpis.turnaround == near(
        [
            {
                "workflow": "deal_kickoff", "approver_role": "operator", "requested": 3,
                "decided": 2, "p50_hours_to_decision": 1.75, "p95_hours_to_decision": 2.875,
            },
            {
                "workflow": "procurement_approval", "approver_role": "admin", "requested": 8,
                "decided": 7, "p50_hours_to_decision": 6.0, "p95_hours_to_decision": 64.8,
            },
        ]
    )  # fmt: skip
    # Open at the build, youngest band first (the backlog is every workflow's, of any period).
    assert [(row["age_band"], row["open_exceptions"]) for row in kpis.backlog] == [
        ("< 1 hour", 1),
        ("1 to < 24 hours", 3),
        ("1 to < 7 days", 1),
        ("7 to < 30 days", 1),
        (">= 30 days", 1),
    ]
    assert [row["day"] for row in kpis.series] == [SEP2, SEP3]
    # 2 Sep: to start 5, 6, 10, 10, 12, 20, 25, 60 (p95 at 6.65: 25 + 0.65 * 35).
    assert kpis.series[0] == near(
        {
            "day": SEP2, "runs_succeeded": 5, "runs_failed": 1, "runs_open": 3,
            "exceptions_opened": 4, "exceptions_resolved": 3, "p50_seconds_to_start": 11.0,
            "p95_seconds_to_start": 47.75, "vendor_writes": 5,
        }
    )  # fmt: skip
    assert kpis.series[1] == near(
        {
            "day": SEP3, "runs_succeeded": 3, "runs_failed": 1, "runs_open": 0,
            "exceptions_opened": 2, "exceptions_resolved": 2, "p50_seconds_to_start": 30.0,
            "p95_seconds_to_start": 57.0, "vendor_writes": 2,
        }
    )  # fmt: skip


def test_read_kpis_one_workflow(built: Built) -> None:
    """The same period for procurement_approval alone: every figure filtered by workflow."""
    kpis = read_kpis(built.path, SEP2, SEP3, workflow=PA)
    assert kpis is not None and kpis.workflow == PA
    # Runs 8 (parked), 10, 11, 12: 15, 7200, 21600 s.
    assert kpis.runs == near(
        {
            "total": 4, "succeeded": 2, "failed": 1, "awaiting_approval": 1, "in_progress": 0,
            "success_rate": 2 / 3, "failure_rate": 1 / 3, "p50_duration_seconds": 7200.0,
            "p95_duration_seconds": 20160.0,
        }
    )  # fmt: skip
    # Approvals 1-8. Hours 1.5, 2, 4, 6, 24, 48, 72: p95 at 5.7: 48 + 0.7 * 24.
    assert kpis.approvals == near(
        {
            "requested": 8, "decided": 7, "approved": 5, "rejected": 1, "expired": 1,
            "pending": 1, "escalated": 2, "p50_hours_to_decision": 6.0,
            "p95_hours_to_decision": 64.8, "share_decided_before_due": 5 / 7,
            "share_expired": 1 / 7,
        }
    )  # fmt: skip
    assert kpis.exceptions == near(
        {"opened": 2, "resolved": 1, "open_at_build": 4, "p50_hours_to_resolve": 3.0}
    )
    # To start 10, 20, 30, 60 (p95 at 2.85: 30 + 0.85 * 30); to end 45, 7260, 21620.
    assert kpis.latency == near(
        {
            "events": 4, "started": 4, "p50_seconds_to_start": 25.0,
            "p95_seconds_to_start": 55.5, "p50_seconds_to_finish": 7260.0,
            "p95_seconds_to_finish": 20184.0,
        }
    )  # fmt: skip
    assert kpis.vendor_writes == [{"vendor": "hubspot", "writes": 1, "failed": 0}]
    assert kpis.series == near([
        {
            "day": SEP2, "runs_succeeded": 0, "runs_failed": 0, "runs_open": 1,
            "exceptions_opened": 0, "exceptions_resolved": 0, "p50_seconds_to_start": 10.0,
            "p95_seconds_to_start": 10.0, "vendor_writes": 0,
        },
        {
            "day": SEP3, "runs_succeeded": 2, "runs_failed": 1, "runs_open": 0,
            "exceptions_opened": 2, "exceptions_resolved": 1, "p50_seconds_to_start": 30.0,
            "p95_seconds_to_start": 57.0, "vendor_writes": 1,
        },
    ])  # fmt: skip


def test_read_kpis_utc_day_and_quiet_day(built: Built) -> None:
    """1 Sep holds only what landed there from a +01:00 / +02:00 offset: approval 9 (requested
    00:30 on 2 Sep at +01:00) and no run, exception, latency or write."""
    kpis = read_kpis(built.path, SEP1, SEP1)
    assert kpis is not None
    assert kpis.runs["total"] == 0 and kpis.runs["success_rate"] is None
    assert kpis.approvals == near(
        {
            "requested": 1, "decided": 1, "approved": 0, "rejected": 1, "expired": 0,
            "pending": 0, "escalated": 0, "p50_hours_to_decision": 5.0,
            "p95_hours_to_decision": 5.0, "share_decided_before_due": 1.0, "share_expired": 0.0,
        }
    )  # fmt: skip
    assert kpis.series == [
        {
            "day": SEP1, "runs_succeeded": 0, "runs_failed": 0, "runs_open": 0,
            "exceptions_opened": 0, "exceptions_resolved": 0, "p50_seconds_to_start": None,
            "p95_seconds_to_start": None, "vendor_writes": 0,
        }
    ]  # fmt: skip


def test_read_kpis_default_period(built: Built) -> None:
    """Without a period: the 30 days up to the build's day, the build's info, and the spend of
    the fiscal year of that day (every policy centre, and the one outside it)."""
    kpis = read_kpis(built.path)
    assert kpis is not None
    built_at = built.report.built_at.astimezone(UTC)
    assert kpis.period == Period(built_at.date() - timedelta(days=29), built_at.date())
    assert kpis.build.built_at == built_at.replace(tzinfo=None)
    assert kpis.build.policy_version == POLICY.version and not kpis.build.partial_build
    assert kpis.build.models_built == built.report.models > 0
    assert kpis.build.tests_passed == built.report.tests > 0
    assert kpis.runs["total"] == 0  # September's runs are out, the late one after the cut-off
    # Opened within the 30 days: all open ones but the 40-day-old one.
    assert kpis.exceptions == {
        "opened": 6, "resolved": 0, "open_at_build": 7, "p50_hours_to_resolve": None,
    }  # fmt: skip
    year = built.year
    assert [
        (r["cost_centre"], r["fiscal_year"], r["commitments"], r["committed_amount"],
         r["commitments_other_currency"])
        for r in kpis.spend
    ] == [
        ("CC-1000", year, 2, Decimal("42000.50"), 1),
        ("CC-2000", year, 1, Decimal("250000.00"), 0),
        ("CC-3000", year, 0, Decimal(0), 0),
        ("CC-7777", year, 0, Decimal(0), 1),
        ("CC-9000", year, 0, Decimal(0), 0),
    ]  # fmt: skip
    cc1000 = kpis.spend[0]
    assert (cc1000["cost_centre_name"], cc1000["budget_currency"], cc1000["annual_budget"]) == (
        "Sales EMEA",
        "EUR",
        Decimal(1200000),
    )
    assert cc1000["share_committed"] == near(0.0350004166667)


# --- Separate builds --------------------------------------------------------------------------

MARTS = [
    "fct_workflow_runs", "workflow_runs_daily", "workflow_execution_daily", "fct_approvals",
    "approval_turnaround", "approval_deciders", "fct_exceptions", "exceptions_daily",
    "exception_backlog", "fct_event_runs", "event_latency_daily", "events_daily",
    "vendor_writes_daily", "audit_actions_daily",
]  # fmt: skip


def test_empty_database(database_url: str, tmp_path: Path) -> None:
    """With no rows at all the build succeeds: every mart is empty but the policy's cost
    centres (no spend), and the KPIs are zero counts with null rates and percentiles."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        empty_tables(conn)
    path = tmp_path / "kpis.duckdb"
    report = build_marts(database_url, POLICY, path)
    for name in MARTS:
        assert query(path, f"SELECT count(*) FROM marts.{name}") == [(0,)], name
    year = report.built_at.astimezone(UTC).year
    assert query(
        path,
        "SELECT cost_centre, fiscal_year, commitments, committed_amount, remaining_budget"
        " FROM marts.spend_by_cost_centre ORDER BY 1",
    ) == [
        ("CC-1000", year, 0, Decimal(0), Decimal(1200000)),
        ("CC-2000", year, 0, Decimal(0), Decimal(1500000)),
        ("CC-3000", year, 0, Decimal(0), Decimal(400000)),
        ("CC-9000", year, 0, Decimal(0), Decimal(250000)),
    ]
    kpis = read_kpis(path)  # the 30 days up to the build's day
    assert kpis is not None
    assert_empty_kpis(kpis)


def test_recovered_and_covered_events_build(database_url: str, tmp_path: Path) -> None:
    """A recovered event has no delivery, and a late webhook it covered has the status
    `covered`: the build and every dbt test pass with both."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        empty_tables(conn)
        conn.execute(
            "INSERT INTO orchestrator.webhook_deliveries (id, signature_version, event_count,"
            " stored_count, duplicate_count, rejected_count)"
            " VALUES ('00000000-0000-0000-0000-000000000001', 'v3', 1, 1, 0, 0)"
        )
        conn.execute(
            "INSERT INTO orchestrator.event_envelopes (portal_id, event_id, content_hash,"
            " subscription_type, object_type, object_id, occurred_at, attempt_number,"
            " last_attempt_number, correlation_id, delivery_id, status, payload, origin,"
            " recovered_key) VALUES"
            " (1, -1, 'a', 'company.creation', 'company', 9001, now() - interval '1 h', 0, 0,"
            "  gen_random_uuid(), NULL, 'processed', '{}', 'recovery', 'company:9001:creation:1'),"
            " (1, 7, 'b', 'company.creation', 'company', 9001, now() - interval '1 h', 0, 0,"
            "  gen_random_uuid(), '00000000-0000-0000-0000-000000000001', 'covered', '{}',"
            "  'webhook', NULL)"
        )
    path = tmp_path / "kpis.duckdb"

    build_marts(database_url, POLICY, path)

    assert query(
        path, "SELECT origin, status, delivery_id IS NULL FROM staging.stg_envelopes ORDER BY 1"
    ) == [("recovery", "processed", True), ("webhook", "covered", False)]


def assert_empty_kpis(kpis: Kpis) -> None:
    assert kpis.runs == {
        "total": 0, "succeeded": 0, "failed": 0, "awaiting_approval": 0, "in_progress": 0,
        "success_rate": None, "failure_rate": None, "p50_duration_seconds": None,
        "p95_duration_seconds": None,
    }  # fmt: skip
    assert kpis.approvals == {
        "requested": 0, "decided": 0, "approved": 0, "rejected": 0, "expired": 0, "pending": 0,
        "escalated": 0, "p50_hours_to_decision": None, "p95_hours_to_decision": None,
        "share_decided_before_due": None, "share_expired": None,
    }  # fmt: skip
    assert kpis.exceptions == {
        "opened": 0, "resolved": 0, "open_at_build": 0, "p50_hours_to_resolve": None,
    }  # fmt: skip
    assert kpis.latency == {
        "events": 0, "started": 0, "p50_seconds_to_start": None, "p95_seconds_to_start": None,
        "p50_seconds_to_finish": None, "p95_seconds_to_finish": None,
    }  # fmt: skip
    assert kpis.vendor_writes == []
    assert len(kpis.spend) == 4 and all(r["commitments"] == 0 for r in kpis.spend)
    assert len(kpis.series) == 30
    assert all(
        row["runs_succeeded"] == row["exceptions_opened"] == row["vendor_writes"] == 0
        and row["p50_seconds_to_start"] is None
        for row in kpis.series
    )


@dataclass(frozen=True)
class Published:
    """A copy of the main build's file, to build over: its path, bytes' digest and built_at."""

    path: Path
    digest: str
    built_at: datetime


@pytest.fixture
def published(built: Built, tmp_path: Path) -> Published:
    path = tmp_path / "kpis.duckdb"
    shutil.copyfile(built.path, path)
    return Published(path, _digest(path), built.report.built_at.astimezone(UTC))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_untouched(published: Published) -> None:
    """The published file is the one before the failed build, with nothing left beside it."""
    assert _digest(published.path) == published.digest
    assert query(published.path, "SELECT built_at FROM meta.build_info") == [
        (published.built_at.replace(tzinfo=None),)
    ]
    assert sorted(p.name for p in published.path.parent.iterdir() if p.suffix != ".lock") == [
        "kpis.duckdb"
    ]


@pytest.fixture
def run_of_unknown_workflow(database_url: str) -> Iterator[None]:
    """A run of a workflow the marts do not know: Postgres accepts any name, the marts' tests
    accept only the product's workflows. Removed afterwards."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO orchestrator.workflow_runs (id, run_key, workflow, thread_id, trigger,"
            " status, policy_version, policy_hash, requested_at)"
            " OVERRIDING SYSTEM VALUE VALUES (99, 'run-99', 'invoice_sync', 'invoice_sync/x',"
            " '{\"source\": \"hubspot\"}', 'requested', '2026-11-25.1', 'test',"
            " '2026-09-04 10:00:00+00')"
        )
        try:
            yield
        finally:
            conn.execute("DELETE FROM orchestrator.workflow_runs WHERE id = 99")


def test_failing_test_keeps_published_file(
    published: Published, database_url: str, run_of_unknown_workflow: None
) -> None:
    """A dbt test that fails on the data (an unknown workflow) fails the build with
    `BuildFailed` naming it, and the file published before stays as it was."""
    with pytest.raises(BuildFailed) as failed:
        build_marts(database_url, POLICY, published.path)
    failures = failed.value.failures
    assert any(
        f.resource_type == "test"
        and f.status == "fail"
        and f.name.startswith("accepted_values_stg_workflow_runs_workflow")
        for f in failures
    ), failures
    assert_untouched(published)


def test_unreachable_database_keeps_published_file(published: Published, database_url: str) -> None:
    """A build over a database that does not exist raises, and the published file stays."""
    missing = with_database(database_url, "orchestrator_no_such_database")
    with pytest.raises(psycopg.OperationalError):
        build_marts(missing, POLICY, published.path)
    assert_untouched(published)
