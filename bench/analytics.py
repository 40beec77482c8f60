"""Analytics benchmark: the KPI marts' build, the headline queries and `GET /api/kpis` over a
synthetic history of realistic size.

Generates ~90 days of history in a scratch Postgres database (`INSERT ... SELECT` from
`generate_series`, nothing per row in Python): N audit-log rows (default 1,000,000) with about
one workflow run per 9.5 of them, their attempts, the HubSpot events and deliveries that started
them (linked through `workflow_runs.envelope_ids`), unrouted events, side effects, approvals
(decided by known people, rejected, expired by the schedule, escalated, pending; amounts across
the bands), exceptions (open and resolved) and budget commitments. Volume follows working hours
and weekdays and grows over the period. Then it measures

- `build_marts` (the full dbt build into a fresh file, published by rename) at two sizes, N and
  N/4 (`--sizes`), with the slowest models, rows/s and how the time scales with the rows;
- each of `HEADLINE_QUERIES` on the published file (read-only), and `read_kpis` end to end,
  for a 30-day and a 90-day period: p50/p95 ms;
- `GET /api/kpis` on the real API (`orchestrator serve`, i.e. `create_app` under uvicorn, in
  a subprocess on a free loopback port, logged in as a viewer): p50/p95 ms idle, and while a
  rebuild runs in a background thread and swaps the file (every answer must be a 200); and
  from several clients at once (`--clients`, every answer must be a 200 too).

It ends with a block of figures to paste into the README.

    .venv/bin/python bench/analytics.py [--audit-rows 1000000] [--sizes 250000,1000000]
                                        [--threads 2] [--repeats 20] [--requests 50]
                                        [--clients 4] [--no-api] [--keep]

About 2 minutes at the default size on 2 cores. `--audit-rows 10000000` works too: about
10 minutes (5 of them generating), 11 GB of Postgres and a 760 MB marts file at the largest
size. Exits 1 when any GET /api/kpis answer was not a 200.

Uses DATABASE_URL's server when set (a new database per size, dropped at the end; the database
DATABASE_URL names is never touched), else an embedded server in a fresh temporary home that
is stopped and deleted at the end. `--keep` keeps the databases, the home and the marts and
prints where they are.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import httpx
import orjson
import psycopg
from psycopg import ClientCursor, sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import free_port, percentile
from ingest_api.auth.tokens import generate_secret
from orchestrator_core.analytics.build import BuildReport, NodeResult, build_marts
from orchestrator_core.analytics.kpis import HEADLINE_QUERIES, Period, open_marts, read_kpis
from orchestrator_core.db.migrate import upgrade
from orchestrator_core.db.server import Database, resolve_database
from orchestrator_core.db.urls import with_database
from orchestrator_core.policy import LoadedPolicy, load_policy
from orchestrator_core.settings import Settings
from orchestrator_core.users import create_user

SECRET = "bench-analytics-webhook-secret"
PORTAL_ID = 62515
# One workflow run per this many audit rows requested. A run's history makes about 9 audit
# rows (its events' status changes, launch, start, park, finish, approval, exceptions, its
# delivery); unrouted events (an `event.status_changed` each) make up the rest, so the audit
# log gets exactly N rows.
AUDIT_ROWS_PER_RUN = 9.5
EVENTS_PER_RUN = 1.55  # each event-started run groups one or two correlated events
HOURS = 90 * 24

# The people who decide approvals and resolve exceptions (`user:<email>` in the tables).
OPERATORS = [
    f"{name}@harborlabs.example"
    for name in (
        "ana.silva", "tom.becker", "mia.laurent", "raj.patel",
        "lea.novak", "sam.okafor", "ida.berg", "leo.marin",
    )
]  # fmt: skip
ADMINS = [
    f"{name}@harborlabs.example"
    for name in ("clara.hoffmann", "david.kim", "nora.weiss", "omar.haddad")
]

# Tables generated, in the order counts are printed.
TABLES = (
    "audit_log", "workflow_runs", "workflow_run_attempts", "event_envelopes",
    "webhook_deliveries", "side_effects", "approvals", "exceptions", "budget_commitments",
)  # fmt: skip


# --------------------------------------------------------------------------------------------
# Generation. Every statement runs in one transaction on a client-side-binding cursor (CREATE
# TABLE AS takes no server-side parameters). The plan tables in schema bench_gen hold one row
# per workflow run with every random draw and every derived time; the product's tables are then
# filled from them, with explicit ids (OVERRIDING SYSTEM VALUE) in time order, as the product
# would have numbered them.

# A standard normal draw (Box-Muller); durations are lognormal around a median.
_Z = "sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())"
_UNIFORMS = (
    "u_out", "u_fail", "u_retry", "u_cc", "u_cur", "u_dec", "u_who", "u_exc", "u_res",
    "u_child", "u_g1", "u_g2", "u_g3",
)  # fmt: skip
DRAWS = ", ".join(
    [f"random() AS {name}" for name in _UNIFORMS] + [f"{_Z} AS z{i}" for i in range(1, 8)]
)

# One row per hour of the 90 days up to 2 minutes ago: which event-started runs (1..runs, in
# time order) fall in it. An hour's share follows a weight: busy 13-16 UTC, working hours
# 7-20 UTC, quiet nights, weekends at 30%, and the volume growing by half over the period.
CALENDAR = f"""
CREATE UNLOGGED TABLE bench_gen.cal AS
WITH hours AS (
    SELECT h, now() - interval '90 days 2 minutes' + (h - 1) * interval '1 hour' AS t
    FROM generate_series(1, {HOURS}) AS h
), weighted AS (
    SELECT h, t,
           (1 + 0.5 * (h - 1) / {HOURS}.0)
           * CASE WHEN extract(isodow FROM t + interval '30 minutes') >= 6 THEN 0.3 ELSE 1 END
           * CASE WHEN extract(hour FROM t + interval '30 minutes') BETWEEN 13 AND 16 THEN 4
                  WHEN extract(hour FROM t + interval '30 minutes') BETWEEN 7 AND 20 THEN 2.5
                  ELSE 0.5 END AS w
    FROM hours
), cumulative AS (
    SELECT h, t, sum(w) OVER (ORDER BY h) / sum(w) OVER () AS cum FROM weighted
)
SELECT h, t,
       round(%(runs)s * coalesce(lag(cum) OVER (ORDER BY h), 0))::bigint + 1 AS first_k,
       CASE WHEN h = {HOURS} THEN %(runs)s::bigint ELSE round(%(runs)s * cum)::bigint END
           AS last_k
FROM cumulative
"""

# Event-started runs: the workflow their events route to, the object, when the events arrived
# (all of a run's events in one delivery) and which events are theirs (envelope ids 2*e for e
# in env_lo..env_hi: one or two each; the odd ids are left for the unrouted events).
EVENT_RUNS = f"""
CREATE UNLOGGED TABLE bench_gen.ev_base AS
SELECT 'e' || s.k AS key, s.k, NULL::text AS parent_key, w.workflow,
       CASE w.workflow WHEN 'contact_role_mapping' THEN 'contact'
                       WHEN 'company_intake' THEN 'company' ELSE 'deal' END AS object_type,
       CASE w.workflow
           WHEN 'contact_role_mapping' THEN 1000000 + floor(random() * %(contacts)s)
           WHEN 'company_intake' THEN 9000000 + floor(random() * %(companies)s)
           ELSE 5000000 + floor(random() * %(deals)s) END::bigint AS object_id,
       s.received_at,
       s.received_at + (0.5 + 4.5 * random()) * interval '1 second' AS requested_at,
       floor((s.k - 1) * {EVENTS_PER_RUN})::bigint + 1 AS env_lo,
       floor(s.k * {EVENTS_PER_RUN})::bigint AS env_hi,
       {DRAWS}
FROM (
    SELECT k, random() AS u_wf,
           c.t + ((k - c.first_k + random()) / (c.last_k - c.first_k + 1)) * interval '1 hour'
               AS received_at
    FROM bench_gen.cal AS c, generate_series(c.first_k, c.last_k) AS k
) AS s
CROSS JOIN LATERAL (
    SELECT CASE WHEN s.u_wf < 0.40 THEN 'contact_role_mapping'
                WHEN s.u_wf < 0.65 THEN 'company_intake'
                WHEN s.u_wf < 0.80 THEN 'deal_kickoff'
                ELSE 'procurement_approval' END AS workflow
) AS w
"""

# A fifth of the companies mirrored by company_intake get a kickoff requested by that run.
CHILD_RUNS = f"""
CREATE UNLOGGED TABLE bench_gen.ch_base AS
SELECT * FROM (
    SELECT 'c' || p.k AS key, p.k, p.key AS parent_key, 'deal_kickoff'::text AS workflow,
           'company'::text AS object_type, p.object_id, NULL::timestamptz AS received_at,
           p.finished_at + (1 + 2 * random()) * interval '1 second' AS requested_at,
           NULL::bigint AS env_lo, NULL::bigint AS env_hi,
           {DRAWS}
    FROM bench_gen.ev AS p
    WHERE p.workflow = 'company_intake' AND p.outcome = 'mirrored' AND p.u_child < 0.2
) AS c
WHERE requested_at <= now()
"""

# Everything that happens to a run, from its draws: start delay (median 3 s), first attempt
# (median 12 s), a retry (8%), failure (3%), an approval (kickoffs; procurement at or above
# 50,000 or not in EUR) decided after a median 2.5 h (12% rejected; expired by the schedule
# past the due time: 24 h kickoff, 48 h procurement, escalated 12 h before), the continuation
# run; then the state as of now: what is not done yet is pending, running or open.
DERIVE = """
CREATE UNLOGGED TABLE bench_gen.{out} AS
SELECT b.*, a.failed, a.retried, a.amount, a.cost_centre, a.started_at, a2.currency, a2.a1_end,
       a3.appr_kind, a3.r_start, a3.dec_h, a4.r_end, a4.due_h, a5.work_end, a5.decision,
       a6.decided_at, a6.escalated_at, a7.cont_start, a8.cont_end, a9.end_planned, st.*,
       o.status, o.outcome, CASE WHEN st.is_finished THEN a9.end_planned END AS finished_at,
       x.exc_kind, x.exc_opened_at
FROM bench_gen.{base} AS b
CROSS JOIN LATERAL (SELECT
    b.u_fail < 0.03 AS failed,
    b.u_retry < 0.08 AS retried,
    CASE WHEN b.workflow = 'procurement_approval'
         THEN round(least(exp(ln(40000) + 1.1 * b.z3), 2500000)::numeric, 2) END AS amount,
    CASE WHEN b.u_cc < 0.35 THEN 'CC-1000' WHEN b.u_cc < 0.65 THEN 'CC-2000'
         WHEN b.u_cc < 0.80 THEN 'CC-3000' ELSE 'CC-9000' END AS cost_centre,
    b.requested_at + exp(ln(3) + 0.9 * b.z1) * interval '1 second' AS started_at
) AS a
CROSS JOIN LATERAL (SELECT
    CASE WHEN b.u_cur < 0.95 THEN CASE a.cost_centre WHEN 'CC-2000' THEN 'USD' ELSE 'EUR' END
         WHEN b.u_cur < 0.98 THEN CASE a.cost_centre WHEN 'CC-2000' THEN 'EUR' ELSE 'USD' END
         ELSE 'GBP' END AS currency,
    a.started_at + exp(ln(12) + 0.8 * b.z2) * interval '1 second' AS a1_end
) AS a2
CROSS JOIN LATERAL (SELECT
    CASE WHEN a.failed THEN NULL
         WHEN b.workflow = 'deal_kickoff' THEN 'kickoff'
         WHEN b.workflow = 'procurement_approval' AND (a.amount >= 50000 OR a2.currency <> 'EUR')
         THEN 'procurement' END AS appr_kind,
    CASE WHEN a.retried THEN a2.a1_end + (20 + 100 * b.u_g1) * interval '1 second' END
        AS r_start,
    exp(ln(2.5) + 1.3 * b.z5) AS dec_h
) AS a3
CROSS JOIN LATERAL (SELECT
    a3.r_start + exp(ln(10) + 0.7 * b.z4) * interval '1 second' AS r_end,
    CASE a3.appr_kind WHEN 'kickoff' THEN 24 WHEN 'procurement' THEN 48 END AS due_h
) AS a4
CROSS JOIN LATERAL (SELECT
    coalesce(a4.r_end, a2.a1_end) AS work_end,
    CASE WHEN a3.appr_kind IS NULL THEN NULL WHEN a3.dec_h >= a4.due_h THEN 'expired'
         WHEN b.u_dec < 0.12 THEN 'rejected' ELSE 'approved' END AS decision
) AS a5
CROSS JOIN LATERAL (SELECT
    a5.work_end + (CASE WHEN a5.decision = 'expired' THEN a4.due_h + b.u_g2 / 12
                        ELSE a3.dec_h END) * interval '1 hour' AS decided_at,
    CASE WHEN a3.appr_kind = 'procurement' AND a3.dec_h >= a4.due_h - 12
         THEN a5.work_end + (a4.due_h - 12 + b.u_g2 / 12) * interval '1 hour' END
        AS escalated_at
) AS a6
CROSS JOIN LATERAL (SELECT
    a6.decided_at + (2 + 13 * b.u_g3) * interval '1 second' AS cont_start
) AS a7
CROSS JOIN LATERAL (SELECT
    a7.cont_start + exp(ln(8) + 0.7 * b.z6) * interval '1 second' AS cont_end
) AS a8
CROSS JOIN LATERAL (SELECT
    CASE WHEN a3.appr_kind IS NULL THEN a5.work_end ELSE a8.cont_end END AS end_planned
) AS a9
CROSS JOIN LATERAL (SELECT
    a.started_at <= now() AS is_started,
    a3.appr_kind IS NOT NULL AND a5.work_end <= now() AS is_parked,
    a3.appr_kind IS NOT NULL AND a6.decided_at <= now() AS is_decided,
    a3.appr_kind IS NOT NULL AND a7.cont_start <= now() AS is_continued,
    a9.end_planned <= now() AS is_finished
) AS st
CROSS JOIN LATERAL (SELECT
    CASE WHEN NOT st.is_started THEN 'requested'
         WHEN st.is_finished THEN CASE WHEN a.failed THEN 'failed' ELSE 'succeeded' END
         WHEN st.is_parked AND NOT st.is_continued THEN 'awaiting_approval'
         ELSE 'running' END AS status,
    CASE WHEN NOT st.is_finished OR a.failed THEN NULL
         WHEN b.workflow = 'contact_role_mapping' THEN
             CASE WHEN b.u_out < 0.85 THEN 'role_assigned' WHEN b.u_out < 0.95 THEN 'needs_review'
                  ELSE 'no_title' END
         WHEN b.workflow = 'company_intake' THEN
             CASE WHEN b.u_out < 0.90 THEN 'mirrored'
                  WHEN b.u_out < 0.97 THEN 'data_quality_exception' ELSE 'object_missing' END
         WHEN a3.appr_kind IS NULL THEN 'purchase_order_created'
         WHEN a5.decision = 'approved' THEN
             CASE b.workflow WHEN 'deal_kickoff' THEN 'kickoff_scheduled'
                  ELSE 'purchase_order_created' END
         WHEN a5.decision = 'rejected' THEN
             CASE b.workflow WHEN 'deal_kickoff' THEN 'kickoff_rejected'
                  ELSE 'request_rejected' END
         ELSE 'approval_expired' END AS outcome
) AS o
CROSS JOIN LATERAL (SELECT
    CASE WHEN a.failed AND st.is_finished THEN
             CASE WHEN b.u_exc < 0.6 THEN 'retries_exhausted'
                  WHEN b.u_exc < 0.9 THEN 'connector_permanent' ELSE 'workflow_error' END
         WHEN o.outcome = 'needs_review' THEN 'role_review'
         WHEN o.outcome = 'data_quality_exception' THEN 'data_quality'
         WHEN a5.decision = 'expired' AND st.is_decided THEN 'approval_expired' END AS exc_kind,
    CASE WHEN a5.decision = 'expired' THEN a6.decided_at ELSE a9.end_planned END
        AS exc_opened_at
) AS x
"""

# Every run in time order, numbered as the product would have; run keys and threads as
# `orchestrator_core.records.keys` spells them.
PLAN = """
CREATE UNLOGGED TABLE bench_gen.plan AS
WITH numbered AS (
    SELECT row_number() OVER (ORDER BY u.requested_at, u.key) AS id, u.*
    FROM (SELECT * FROM bench_gen.ev UNION ALL SELECT * FROM bench_gen.ch) AS u
), keyed AS (
    SELECT n.*, parent.id AS parent_id,
           CASE WHEN n.parent_key IS NULL THEN (2 * n.env_lo)::text
                ELSE 'from-run-' || parent.id END AS key_tail
    FROM numbered AS n LEFT JOIN numbered AS parent ON parent.key = n.parent_key
)
SELECT k.*,
       k.workflow || ':' || k.key_tail AS run_key,
       k.workflow || '/' || k.object_type || '-' || k.object_id || '/' || k.key_tail AS thread_id,
       md5('corr' || k.key)::uuid AS correlation_id,
       md5('a1' || k.key)::uuid::text AS a1_id,
       md5('ar' || k.key)::uuid::text AS ar_id,
       md5('ac' || k.key)::uuid::text AS ac_id
FROM keyed AS k
"""

_ENVELOPE_STATUS = """
CASE p.status WHEN 'requested' THEN 'dispatched' WHEN 'running' THEN 'dispatched'
     WHEN 'awaiting_approval' THEN 'awaiting_approval' WHEN 'failed' THEN 'failed'
     ELSE 'processed' END
"""

WORKFLOW_RUNS = """
INSERT INTO orchestrator.workflow_runs (
    id, run_key, workflow, thread_id, portal_id, object_type, object_id, correlation_id,
    envelope_ids, trigger, parent_id, status, outcome, dagster_run_id, steps, policy_version,
    policy_hash, error, requested_at, last_requested_at, started_at, finished_at, updated_at
) OVERRIDING SYSTEM VALUE
SELECT p.id, p.run_key, p.workflow, p.thread_id, %(portal)s, p.object_type, p.object_id,
       p.correlation_id,
       CASE WHEN p.env_lo IS NULL THEN ARRAY[]::bigint[]
            WHEN p.env_hi > p.env_lo THEN ARRAY[2 * p.env_lo, 2 * p.env_hi]
            ELSE ARRAY[2 * p.env_lo] END,
       CASE WHEN p.parent_id IS NULL
            THEN jsonb_build_object('source', 'hubspot', 'events', jsonb_build_array(
                     jsonb_build_object('type', p.object_type || '.propertyChange',
                                        'source', 'CRM_UI', 'sourceId', 'userId:45678')))
            ELSE jsonb_build_object('source', 'workflow', 'parent_run_id', p.parent_id,
                                    'reason', 'company_kickoff') END,
       p.parent_id, p.status, p.outcome,
       CASE WHEN p.is_continued THEN p.ac_id
            WHEN p.retried AND p.r_start <= now() THEN p.ar_id
            WHEN p.is_started THEN p.a1_id END,
       CASE WHEN p.is_finished THEN ARRAY['load', 'decide', 'write'] ELSE ARRAY[]::text[] END,
       %(policy_version)s, %(policy_hash)s,
       CASE WHEN p.status = 'failed' THEN 'ConnectorError: the vendor kept failing' END,
       p.requested_at, p.requested_at,
       CASE WHEN p.is_started THEN p.started_at END, p.finished_at,
       coalesce(p.finished_at, p.requested_at)
FROM bench_gen.plan AS p
"""

ATTEMPTS = """
INSERT INTO orchestrator.workflow_run_attempts (
    dagster_run_id, workflow_run_id, kind, job_name, status, steps, error, started_at,
    finished_at
)
SELECT p.a1_id, p.id, 'start', p.workflow || '_job',
       CASE WHEN p.a1_end > now() THEN 'running' WHEN p.failed OR p.retried THEN 'failed'
            ELSE 'succeeded' END,
       ARRAY['load', 'decide'],
       CASE WHEN (p.failed OR p.retried) AND p.a1_end <= now() THEN 'ConnectorError: 503' END,
       p.started_at, CASE WHEN p.a1_end <= now() THEN p.a1_end END
FROM bench_gen.plan AS p WHERE p.is_started
UNION ALL
SELECT p.ar_id, p.id, 'resume', p.workflow || '_job',
       CASE WHEN p.r_end > now() THEN 'running' WHEN p.failed THEN 'failed'
            ELSE 'succeeded' END,
       ARRAY['decide', 'write'],
       CASE WHEN p.failed AND p.r_end <= now() THEN 'ConnectorError: 503' END,
       p.r_start, CASE WHEN p.r_end <= now() THEN p.r_end END
FROM bench_gen.plan AS p WHERE p.retried AND p.r_start <= now()
UNION ALL
SELECT p.ac_id, p.id, 'continuation', p.workflow || '_job',
       CASE WHEN p.cont_end > now() THEN 'running' ELSE 'succeeded' END,
       ARRAY['write'], NULL, p.cont_start, CASE WHEN p.cont_end <= now() THEN p.cont_end END
FROM bench_gen.plan AS p WHERE p.is_continued
"""

ROUTED_ENVELOPES = f"""
INSERT INTO orchestrator.event_envelopes (
    id, portal_id, event_id, content_hash, subscription_type, object_type, object_type_id,
    object_id, property_name, change_source, source_id, occurred_at, attempt_number,
    last_attempt_number, delivery_count, correlation_id, delivery_id, status, payload,
    received_at, updated_at
) OVERRIDING SYSTEM VALUE
SELECT 2 * e, %(portal)s, 2 * e, md5('env' || e), p.object_type || '.propertyChange',
       p.object_type,
       CASE p.object_type WHEN 'contact' THEN '0-1' WHEN 'company' THEN '0-2' ELSE '0-3' END,
       p.object_id, prop.name, 'CRM_UI', 'userId:' || (45000 + mod(e, 40)),
       p.received_at - (1 + mod(e * 7919, 30)) * interval '1 second',
       0, CASE WHEN mod(e, 20) = 0 THEN 1 ELSE 0 END, CASE WHEN mod(e, 20) = 0 THEN 2 ELSE 1 END,
       p.correlation_id, md5('dlv' || p.key)::uuid, {_ENVELOPE_STATUS},
       jsonb_build_object(
           'eventId', 2 * e, 'portalId', %(portal)s,
           'subscriptionType', p.object_type || '.propertyChange', 'objectId', p.object_id,
           'propertyName', prop.name, 'propertyValue', 'value-' || mod(e * 31, 997),
           'changeSource', 'CRM_UI', 'sourceId', 'userId:45678', 'attemptNumber', 0,
           'occurredAt', (extract(epoch FROM p.received_at) * 1000)::bigint),
       p.received_at, coalesce(p.finished_at, p.requested_at)
FROM bench_gen.plan AS p
CROSS JOIN LATERAL generate_series(p.env_lo, p.env_hi) AS e
CROSS JOIN LATERAL (SELECT CASE p.workflow
    WHEN 'contact_role_mapping' THEN 'jobtitle' WHEN 'company_intake' THEN 'lifecyclestage'
    WHEN 'deal_kickoff' THEN 'dealstage' ELSE 'amount' END AS name) AS prop
WHERE p.env_lo IS NOT NULL
"""

APPROVALS = """
INSERT INTO orchestrator.approvals (
    id, workflow_run_id, workflow, thread_id, interrupt_id, kind, portal_id, object_type,
    object_id, proposal, reason, policy_snapshot, policy_version, policy_hash, approver_role,
    requested_by, requested_by_email, due_at, status, decision, decided_by, decided_at,
    requested_run_id, continuation_requested_at, continuation_run_id, created_at, updated_at,
    escalated_at, decision_note
) OVERRIDING SYSTEM VALUE
SELECT row_number() OVER (ORDER BY p.work_end, p.id), p.id, p.workflow, p.thread_id,
       md5('interrupt' || p.key), p.appr_kind, %(portal)s, p.object_type, p.object_id,
       CASE p.appr_kind
           WHEN 'kickoff' THEN jsonb_build_object(
               'slots', jsonb_build_array(p.work_end + interval '2 days',
                                          p.work_end + interval '3 days'),
               'organiser', 'csm-' || mod(p.object_id, 40))
           ELSE jsonb_build_object(
               'amount', p.amount::text, 'currency', p.currency, 'deal_id', p.object_id,
               'cost_centre', jsonb_build_object('code', p.cost_centre))
       END,
       CASE p.appr_kind WHEN 'kickoff' THEN 'kickoff slots need an operator''s approval'
            ELSE 'amount at or above the threshold' END,
       jsonb_build_object('approver_role', who.role, 'due_hours', p.due_h,
                          'threshold', 50000, 'currency', 'EUR', 'escalation_lead_hours', 12),
       %(policy_version)s, %(policy_hash)s, who.role,
       'hubspot:userId:' || (45000 + mod(p.object_id, 40)), NULL,
       p.work_end + p.due_h * interval '1 hour',
       CASE WHEN p.is_decided THEN p.decision ELSE 'pending' END,
       CASE WHEN p.is_decided THEN jsonb_build_object('decision', CASE p.decision
           WHEN 'approved' THEN 'approve' WHEN 'rejected' THEN 'reject' ELSE 'expire' END) END,
       CASE WHEN NOT p.is_decided THEN NULL WHEN p.decision = 'expired' THEN 'schedule'
            ELSE 'user:' || who.person END,
       CASE WHEN p.is_decided THEN p.decided_at END,
       p.a1_id,
       CASE WHEN p.is_decided THEN least(p.decided_at + interval '1 second', p.cont_start) END,
       CASE WHEN p.is_continued THEN p.ac_id END,
       p.work_end,
       CASE WHEN p.is_decided THEN p.decided_at
            WHEN p.escalated_at <= now() THEN p.escalated_at ELSE p.work_end END,
       CASE WHEN p.escalated_at <= now() THEN p.escalated_at END,
       CASE WHEN p.is_decided AND p.decision = 'rejected' THEN 'not this quarter' END
FROM bench_gen.plan AS p
CROSS JOIN LATERAL (SELECT
    CASE p.appr_kind WHEN 'kickoff' THEN 'operator' ELSE 'admin' END AS role,
    CASE p.appr_kind
        WHEN 'kickoff' THEN (%(operators)s::text[])[1 + floor(8 * power(p.u_who, 1.6))::int]
        ELSE (%(admins)s::text[])[1 + floor(4 * power(p.u_who, 1.4))::int] END AS person
) AS who
WHERE p.is_parked
"""

EXCEPTIONS = """
INSERT INTO orchestrator.exceptions (
    id, dedup_key, kind, severity, message, suggested_fix, workflow, workflow_run_id,
    dagster_run_id, step, envelope_ids, portal_id, object_type, object_id, details, status,
    occurrences, opened_at, last_seen_at, resolved_at, resolved_by, resolution_note
) OVERRIDING SYSTEM VALUE
SELECT row_number() OVER (ORDER BY x.exc_opened_at, x.id), x.exc_kind || ':' || x.thread_id,
       x.exc_kind,
       CASE WHEN x.exc_kind IN ('retries_exhausted', 'connector_permanent', 'workflow_error')
            THEN 'error' ELSE 'warning' END,
       CASE x.exc_kind
           WHEN 'retries_exhausted' THEN 'the vendor kept failing after 5 attempts'
           WHEN 'connector_permanent' THEN 'the vendor refused the write (422)'
           WHEN 'workflow_error' THEN 'the workflow raised an unexpected error'
           WHEN 'role_review' THEN 'the job title maps to no single role'
           WHEN 'data_quality' THEN 'the company has no domain'
           ELSE 'the approval expired without a decision' END,
       'see the runbook', x.workflow, x.id, x.a1_id, 'write', ARRAY[]::bigint[], %(portal)s,
       x.object_type, x.object_id, jsonb_build_object('run_key', x.run_key),
       CASE WHEN x.resolved THEN 'resolved' ELSE 'open' END,
       1 + floor(3 * power(x.u_g1, 3))::int, x.exc_opened_at, x.exc_opened_at,
       CASE WHEN x.resolved THEN x.resolve_at END,
       CASE WHEN x.resolved THEN 'user:' || (%(operators)s::text[])[1 + floor(8 * x.u_who)::int]
       END,
       CASE WHEN x.resolved THEN 'fixed at the source and re-run' END
FROM (
    SELECT p.*, r.resolve_at, p.u_res < 0.75 AND r.resolve_at <= now() AS resolved
    FROM bench_gen.plan AS p
    CROSS JOIN LATERAL (SELECT p.exc_opened_at + exp(ln(6) + 1.2 * p.z7) * interval '1 hour'
                        AS resolve_at) AS r
    WHERE p.exc_kind IS NOT NULL AND p.exc_opened_at <= now()
) AS x
"""

# The ledger's writes per workflow: before an approval (pre), after it was approved or when
# none was needed (post), after a rejection (rej).
SIDE_EFFECTS = """
INSERT INTO orchestrator.side_effects (
    id, thread_id, step, target, status, external_id, attempts, created_at, updated_at
) OVERRIDING SYSTEM VALUE
SELECT row_number() OVER (ORDER BY x.created_at, x.thread_id, x.step), x.thread_id, x.step,
       x.target, x.status, CASE WHEN x.status = 'succeeded' THEN left(md5(x.target), 17) END,
       x.attempts, x.created_at, x.created_at + interval '400 milliseconds'
FROM (
    SELECT p.thread_id, s.step,
           s.vendor || ':' || s.resource || ':' || p.object_id || ':' || p.id AS target,
           CASE WHEN p.failed AND s.is_last THEN 'failed' ELSE 'succeeded' END AS status,
           CASE WHEN p.failed AND s.is_last THEN 5 WHEN mod(p.id + s.ord, 19) = 0 THEN 2
                ELSE 1 END AS attempts,
           CASE WHEN s.phase = 'pre' THEN p.started_at + s.ord * interval '2 seconds'
                WHEN p.appr_kind IS NULL THEN p.started_at + (s.ord + 1) * interval '2 seconds'
                ELSE p.cont_start + s.ord * interval '2 seconds' END AS created_at
    FROM bench_gen.plan AS p
    JOIN (VALUES
        ('contact_role_mapping', 'pre', 1, false, 'mirror_contact', 'airtable', 'Contacts'),
        ('contact_role_mapping', 'pre', 2, true, 'write_hubspot_role', 'hubspot', 'contacts'),
        ('company_intake', 'pre', 1, false, 'mirror_account', 'airtable', 'Accounts'),
        ('company_intake', 'pre', 2, false, 'link_sop_page', 'notion', 'sop'),
        ('company_intake', 'pre', 3, true, 'copy_drive_template', 'google', 'drive'),
        ('deal_kickoff', 'post', 1, false, 'create_event', 'google', 'calendar'),
        ('deal_kickoff', 'post', 2, false, 'record_kickoff', 'airtable', 'Kickoffs'),
        ('deal_kickoff', 'post', 3, false, 'share_drive_copy', 'google', 'drive'),
        ('deal_kickoff', 'rej', 1, false, 'record_rejection', 'hubspot', 'deals'),
        ('procurement_approval', 'pre', 1, true, 'open_request', 'airtable', 'Requests'),
        ('procurement_approval', 'post', 1, false, 'create_purchase_order', 'airtable',
         'PurchaseOrders'),
        ('procurement_approval', 'post', 2, false, 'close_request', 'airtable', 'Requests'),
        ('procurement_approval', 'rej', 1, false, 'record_rejection', 'hubspot', 'deals')
    ) AS s (workflow, phase, ord, is_last, step, vendor, resource) ON s.workflow = p.workflow
    WHERE p.is_started AND (
        s.phase = 'pre'
        OR (s.phase = 'post' AND p.appr_kind IS NULL AND p.is_finished AND NOT p.failed)
        OR (s.phase = 'post' AND p.decision = 'approved' AND p.is_continued)
        OR (s.phase = 'rej' AND p.decision = 'rejected' AND p.is_continued))
) AS x
WHERE x.created_at <= now()
"""

COMMITMENTS = """
INSERT INTO orchestrator.budget_commitments (
    id, cost_centre, fiscal_year, purchase_order, deal_id, amount, currency, workflow_run_id,
    created_at
) OVERRIDING SYSTEM VALUE
SELECT row_number() OVER (ORDER BY p.finished_at, p.id), p.cost_centre,
       extract(year FROM p.finished_at)::int, 'PO-' || p.id, p.object_id, p.amount, p.currency,
       p.id, p.finished_at - interval '1 second'
FROM bench_gen.plan AS p WHERE p.outcome = 'purchase_order_created'
"""

USERS = """
INSERT INTO orchestrator.users (email, role, password_hash, created_at, updated_at,
                                password_changed_at)
SELECT email, role, 'bench: no password', now() - interval '120 days',
       now() - interval '120 days', now() - interval '120 days'
FROM unnest(%(operators)s::text[]) AS email, LATERAL (SELECT 'operator' AS role) AS r
UNION ALL
SELECT email, 'admin', 'bench: no password', now() - interval '120 days',
       now() - interval '120 days', now() - interval '120 days'
FROM unnest(%(admins)s::text[]) AS email
"""

# The audit rows the changes above would have appended (columns: occurred_at, actor, action,
# entity_type, entity_id, before, after, correlation_id, policy_version). Unrouted events and
# deliveries are added once their count is known.
_PV = "%(policy_version)s"
AUDIT_PARTS = [
    # event.status_changed received → dispatched, when the sensor launched the run
    f"""SELECT p.requested_at, 'system', 'event.status_changed', 'event', (2 * e)::text,
        jsonb_build_object('status', 'received'),
        jsonb_build_object('status', 'dispatched', 'reason', p.workflow),
        p.correlation_id::text, {_PV}
    FROM bench_gen.plan AS p CROSS JOIN LATERAL generate_series(p.env_lo, p.env_hi) AS e
    WHERE p.env_lo IS NOT NULL""",
    # → awaiting_approval when the run parked
    f"""SELECT p.work_end, 'system', 'event.status_changed', 'event', (2 * e)::text,
        jsonb_build_object('status', 'dispatched'),
        jsonb_build_object('status', 'awaiting_approval', 'workflow_run_id', p.id),
        p.correlation_id::text, {_PV}
    FROM bench_gen.plan AS p CROSS JOIN LATERAL generate_series(p.env_lo, p.env_hi) AS e
    WHERE p.env_lo IS NOT NULL AND p.is_parked""",
    # → dispatched again when the continuation started
    f"""SELECT p.cont_start, 'system', 'event.status_changed', 'event', (2 * e)::text,
        jsonb_build_object('status', 'awaiting_approval'),
        jsonb_build_object('status', 'dispatched', 'workflow_run_id', p.id),
        p.correlation_id::text, {_PV}
    FROM bench_gen.plan AS p CROSS JOIN LATERAL generate_series(p.env_lo, p.env_hi) AS e
    WHERE p.env_lo IS NOT NULL AND p.is_continued""",
    # → processed or failed when the run finished
    f"""SELECT p.end_planned, 'system', 'event.status_changed', 'event', (2 * e)::text,
        jsonb_build_object('status', 'dispatched'),
        jsonb_build_object('status', CASE WHEN p.failed THEN 'failed' ELSE 'processed' END,
                           'workflow_run_id', p.id),
        p.correlation_id::text, {_PV}
    FROM bench_gen.plan AS p CROSS JOIN LATERAL generate_series(p.env_lo, p.env_hi) AS e
    WHERE p.env_lo IS NOT NULL AND p.is_finished""",
    f"""SELECT p.requested_at, 'system', 'run.launched', 'workflow_run', p.id::text, NULL,
        jsonb_build_object('status', 'requested', 'workflow', p.workflow, 'run_key', p.run_key,
                           'object', p.object_type || '/' || p.object_id),
        p.correlation_id::text, {_PV}
    FROM bench_gen.plan AS p""",
    f"""SELECT p.started_at, 'system', 'run.started', 'workflow_run', p.id::text,
        jsonb_build_object('status', 'requested'),
        jsonb_build_object('status', 'running', 'workflow', p.workflow, 'dagster_run_id', p.a1_id),
        p.correlation_id::text, {_PV}
    FROM bench_gen.plan AS p WHERE p.is_started""",
    f"""SELECT p.cont_start, 'system', 'run.started', 'workflow_run', p.id::text,
        jsonb_build_object('status', 'awaiting_approval'),
        jsonb_build_object('status', 'running', 'workflow', p.workflow, 'dagster_run_id', p.ac_id),
        p.correlation_id::text, {_PV}
    FROM bench_gen.plan AS p WHERE p.is_continued""",
    f"""SELECT p.work_end, 'system', 'run.parked', 'workflow_run', p.id::text,
        jsonb_build_object('status', 'running'),
        jsonb_build_object('status', 'awaiting_approval', 'workflow', p.workflow),
        p.correlation_id::text, {_PV}
    FROM bench_gen.plan AS p WHERE p.is_parked""",
    f"""SELECT p.end_planned, 'system', 'run.finished', 'workflow_run', p.id::text,
        jsonb_build_object('status', 'running'),
        jsonb_build_object('status', p.status, 'workflow', p.workflow, 'outcome', p.outcome),
        p.correlation_id::text, {_PV}
    FROM bench_gen.plan AS p WHERE p.is_finished""",
    """SELECT a.created_at, 'system', 'approval.requested', 'approval', a.id::text, NULL,
        jsonb_build_object('status', 'pending', 'kind', a.kind, 'approver_role', a.approver_role,
                           'workflow_run_id', a.workflow_run_id),
        NULL, a.policy_version
    FROM orchestrator.approvals AS a""",
    """SELECT a.decided_at, a.decided_by, 'approval.' || a.status, 'approval', a.id::text,
        jsonb_build_object('status', 'pending'),
        jsonb_build_object('status', a.status, 'kind', a.kind, 'decided_by', a.decided_by,
                           'decision_note', a.decision_note),
        NULL, a.policy_version
    FROM orchestrator.approvals AS a WHERE a.decided_at IS NOT NULL""",
    """SELECT a.escalated_at, 'schedule', 'approval.escalated', 'approval', a.id::text, NULL,
        jsonb_build_object('status', 'pending', 'kind', a.kind, 'due_at', a.due_at),
        NULL, a.policy_version
    FROM orchestrator.approvals AS a WHERE a.escalated_at IS NOT NULL""",
    """SELECT x.opened_at, 'system', 'exception.opened', 'exception', x.id::text, NULL,
        jsonb_build_object('status', 'open', 'kind', x.kind, 'severity', x.severity,
                           'workflow', x.workflow, 'workflow_run_id', x.workflow_run_id),
        NULL, NULL
    FROM orchestrator.exceptions AS x""",
    """SELECT x.resolved_at, x.resolved_by, 'exception.resolved', 'exception', x.id::text,
        jsonb_build_object('status', 'open', 'resolution_note', NULL),
        jsonb_build_object('status', 'resolved', 'resolution_note', x.resolution_note),
        NULL, NULL
    FROM orchestrator.exceptions AS x WHERE x.resolved_at IS NOT NULL""",
    """SELECT u.created_at, 'cli:bench', 'user.created', 'user', u.id::text, NULL,
        jsonb_build_object('email', u.email, 'role', u.role), NULL, NULL
    FROM orchestrator.users AS u""",
]
AUDIT_DELIVERIES = """SELECT d.received_at, 'hubspot', 'delivery.accepted', 'webhook_delivery',
        d.id::text, NULL,
        jsonb_build_object('events', d.event_count, 'stored', d.stored_count,
                           'duplicates', d.duplicate_count, 'rejected', d.rejected_count,
                           'signature_version', d.signature_version),
        NULL, NULL
    FROM orchestrator.webhook_deliveries AS d"""
AUDIT_UNROUTED = """SELECT e.received_at, 'system', 'event.status_changed', 'event', e.id::text,
        jsonb_build_object('status', 'received'),
        jsonb_build_object('status', 'unrouted', 'reason', e.status_reason),
        e.correlation_id::text, NULL
    FROM orchestrator.event_envelopes AS e WHERE e.status = 'unrouted'"""

# Events no route takes, in the odd ids: each in the delivery of the routed event after it.
UNROUTED_ENVELOPES = """
INSERT INTO orchestrator.event_envelopes (
    id, portal_id, event_id, content_hash, subscription_type, object_type, object_type_id,
    object_id, property_name, change_source, source_id, occurred_at, attempt_number,
    last_attempt_number, delivery_count, correlation_id, delivery_id, status, status_reason,
    payload, received_at, updated_at
) OVERRIDING SYSTEM VALUE
SELECT 2 * q.p - 1, %(portal)s, 2 * q.p - 1, md5('unrouted' || q.j), r.subscription_type,
       r.object_type, r.object_type_id, r.object_id + 17, prop.name, 'CRM_UI', r.source_id,
       r.occurred_at - interval '3 seconds', 0, 0, 1, md5('unrouted-corr' || q.j)::uuid,
       r.delivery_id, 'unrouted', 'no route for ' || r.subscription_type || ' ' || prop.name,
       jsonb_build_object('eventId', 2 * q.p - 1, 'portalId', %(portal)s,
                          'subscriptionType', r.subscription_type, 'objectId', r.object_id + 17,
                          'propertyName', prop.name, 'propertyValue', 'v' || q.j,
                          'changeSource', 'CRM_UI', 'attemptNumber', 0),
       r.received_at, r.received_at
FROM (
    SELECT j, ceil(j * %(routed)s::numeric / %(unrouted)s)::bigint AS p
    FROM generate_series(1, %(unrouted)s) AS j
) AS q
JOIN orchestrator.event_envelopes AS r ON r.id = 2 * q.p
CROSS JOIN LATERAL (SELECT (ARRAY['phone', 'hs_lead_status', 'industry', 'closedate',
                                  'hs_lastmodifieddate'])[1 + mod(q.j, 5)::int] AS name) AS prop
"""

DELIVERIES = """
INSERT INTO orchestrator.webhook_deliveries (
    id, received_at, request_id, signature_version, event_count, stored_count, duplicate_count,
    rejected_count
)
SELECT delivery_id, min(received_at), 'req-' || left(delivery_id::text, 8), 'v3', count(*),
       count(*), 0, 0
FROM orchestrator.event_envelopes GROUP BY delivery_id
"""

# The audit log in time order, seq gapless. The chain's prev_hash/row_hash are placeholders
# (the insert trigger that computes them is off in this scratch database, see `generate`):
# `orchestrator audit verify` would reject this log, which is not the point here.
AUDIT_INSERT = """
INSERT INTO orchestrator.audit_log (
    id, occurred_at, actor, action, entity_type, entity_id, before, after, correlation_id,
    policy_version, seq, prev_hash, row_hash
) OVERRIDING SYSTEM VALUE
SELECT n, occurred_at, actor, action, entity_type, entity_id, before, after, correlation_id,
       policy_version, n, repeat('0', 64), 'bench-placeholder-' || n
FROM (
    SELECT row_number() OVER (ORDER BY u.occurred_at) AS n, u.*
    FROM ({parts}) AS u (occurred_at, actor, action, entity_type, entity_id, before, after,
                         correlation_id, policy_version)
) AS numbered
"""

IDENTITY_TABLES = (
    "event_envelopes", "workflow_runs", "approvals", "exceptions", "side_effects",
    "budget_commitments", "audit_log", "users",
)  # fmt: skip


@dataclass
class Generated:
    audit_rows: int
    seconds: float
    vacuum_seconds: float
    counts: dict[str, int]
    details: dict[str, dict[str, int]]
    database_mb: float
    notes: list[str] = field(default_factory=list)

    @property
    def source_rows(self) -> int:
        return sum(self.counts.values())


def _count(cur: ClientCursor[Any], query: str, params: dict[str, Any] | None = None) -> int:
    row = cur.execute(query, params).fetchone()
    assert row is not None
    return int(row[0])


def _quiet_triggers(conn: psycopg.Connection[Any], cur: ClientCursor[Any]) -> str:
    """Switch the audit chain's insert trigger off for this transaction; how it was done."""
    # Scratch database only. audit_log's BEFORE INSERT trigger takes a lock and chains each
    # row to the one before (a sha256 per row, one row at a time): hours for millions of rows.
    # session_replication_role = replica skips triggers (foreign-key checks too) for this
    # transaction; it needs a superuser. The owner of the tables (who ran the migrations) can
    # instead disable that one trigger, inside this transaction, and enable it before commit.
    try:
        with conn.transaction():
            cur.execute("SET LOCAL session_replication_role = replica")
        return "session_replication_role = replica"
    except psycopg.errors.InsufficientPrivilege:
        cur.execute("ALTER TABLE orchestrator.audit_log DISABLE TRIGGER audit_log_chain")
        return "audit_log_chain disabled in the transaction"


def generate(database_url: str, audit_rows: int, policy: LoadedPolicy) -> Generated:
    """Fill a freshly migrated scratch database with `audit_rows` audit rows of history."""
    runs = max(8, int(audit_rows / AUDIT_ROWS_PER_RUN))
    event_runs = round(runs * 0.95)  # company kickoffs requested by runs make up the rest
    params: dict[str, Any] = {
        "runs": event_runs,
        "contacts": max(50, runs // 4),
        "companies": max(20, runs // 12),
        "deals": max(20, runs // 6),
        "portal": PORTAL_ID,
        "policy_version": policy.version,
        "policy_hash": policy.content_hash,
        "operators": OPERATORS,
        "admins": ADMINS,
    }
    notes: list[str] = []
    started = time.perf_counter()
    with psycopg.connect(database_url, cursor_factory=ClientCursor) as conn:
        cur = ClientCursor(conn)
        cur.execute("SET TimeZone = 'UTC'")
        cur.execute("SET work_mem = '256MB'")
        cur.execute("SET maintenance_work_mem = '512MB'")
        cur.execute("SET synchronous_commit = off")
        with conn.transaction():
            how = _quiet_triggers(conn, cur)
            cur.execute("SELECT setseed(0.2026)")
            cur.execute("CREATE SCHEMA bench_gen")
            cur.execute(CALENDAR, params)
            cur.execute(EVENT_RUNS, params)
            cur.execute(DERIVE.format(base="ev_base", out="ev"))
            cur.execute(CHILD_RUNS)
            cur.execute(DERIVE.format(base="ch_base", out="ch"))
            cur.execute(PLAN)
            for statement in (
                WORKFLOW_RUNS, ATTEMPTS, ROUTED_ENVELOPES, APPROVALS, EXCEPTIONS,
                SIDE_EFFECTS, COMMITMENTS, USERS,
            ):  # fmt: skip
                cur.execute(statement, params)
            # How many audit rows the history above makes; unrouted events fill up to N.
            derived = _count(
                cur, "SELECT count(*) FROM (" + " UNION ALL ".join(AUDIT_PARTS) + ") AS u", params
            )
            routed = _count(cur, "SELECT count(*) FROM orchestrator.event_envelopes")
            deliveries = _count(cur, "SELECT count(DISTINCT key) FROM bench_gen.ev")
            unrouted = audit_rows - derived - deliveries
            if unrouted > routed:
                notes.append(f"unrouted events capped at {routed} (one per routed event)")
                unrouted = routed
            if unrouted < 0:
                notes.append(f"{-unrouted} audit rows more than requested (the runs alone)")
                unrouted = 0
            if unrouted > 0:
                cur.execute(UNROUTED_ENVELOPES, {**params, "routed": routed, "unrouted": unrouted})
            cur.execute(DELIVERIES)
            parts = [*AUDIT_PARTS, AUDIT_DELIVERIES, AUDIT_UNROUTED]
            cur.execute(AUDIT_INSERT.format(parts=" UNION ALL ".join(parts)), params)
            for table in IDENTITY_TABLES:
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('orchestrator.{table}', 'id'),"
                    f" (SELECT max(id) FROM orchestrator.{table}))"
                )
            cur.execute("DROP SCHEMA bench_gen CASCADE")
            if how.startswith("audit_log_chain"):
                cur.execute("ALTER TABLE orchestrator.audit_log ENABLE TRIGGER audit_log_chain")
        inserted = time.perf_counter()
    # Hint bits, visibility map and statistics, as a live database has them: otherwise the
    # first build's scans would write every page.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        finished = time.perf_counter()
        counts = {}
        for table in TABLES:
            row = conn.execute(f"SELECT count(*) FROM orchestrator.{table}").fetchone()
            counts[table] = int(row[0]) if row else 0
        details: dict[str, dict[str, int]] = {}
        for table, column in (
            ("workflow_runs", "status"), ("approvals", "status"), ("exceptions", "status"),
            ("event_envelopes", "status"),
        ):  # fmt: skip
            details[table] = {
                str(value): int(n)
                for value, n in conn.execute(
                    f"SELECT {column}, count(*) FROM orchestrator.{table}"
                    " GROUP BY 1 ORDER BY 2 DESC"
                )
            }
        details["approval bands"] = {
            str(band): int(n)
            for band, n in conn.execute(
                """
                SELECT CASE WHEN amount IS NULL THEN 'no amount' WHEN amount < 10000 THEN '<10k'
                            WHEN amount < 50000 THEN '10k-50k' WHEN amount < 100000
                            THEN '50k-100k' WHEN amount < 250000 THEN '100k-250k'
                            ELSE '>=250k' END, count(*)
                FROM (SELECT (proposal ->> 'amount')::numeric AS amount
                      FROM orchestrator.approvals) AS a
                GROUP BY 1 ORDER BY 2 DESC
                """
            )
        }
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        size_mb = int(row[0]) / 1e6 if row else 0.0
    notes.insert(0, f"audit chain trigger skipped ({how})")
    return Generated(
        audit_rows=counts["audit_log"],
        seconds=inserted - started,
        vacuum_seconds=finished - inserted,
        counts=counts,
        details=details,
        database_mb=size_mb,
        notes=notes,
    )


# --------------------------------------------------------------------------------------------
# Scratch databases


@dataclass
class Scratch:
    """The server (embedded under a temporary home, or DATABASE_URL's) and the databases made
    on it for this run."""

    settings: Settings
    database: Database
    prefix: str = field(default_factory=lambda: f"bench_analytics_{uuid.uuid4().hex[:8]}")
    created: list[str] = field(default_factory=list)

    @property
    def admin_url(self) -> str:
        return with_database(self.database.url, "postgres")

    def create(self, label: str) -> str:
        name = f"{self.prefix}_{label}"
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.created.append(name)
        url = with_database(self.database.url, name)
        upgrade(url)
        return url

    def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[-1].split("?", 1)[0]
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        if name in self.created:
            self.created.remove(name)


@contextlib.contextmanager
def scratch_server(keep: bool) -> Iterator[Scratch]:
    home = Path(tempfile.mkdtemp(prefix="bench-analytics-"))
    os.environ["ORCHESTRATOR_HOME"] = str(home)
    os.environ.pop("DAGSTER_HOME", None)
    # The marts go under the temporary home whatever ANALYTICS_PATH says: never over a real file.
    settings = Settings(
        orchestrator_home=home,
        hubspot_webhook_secret=SECRET,
        analytics_path=home / "analytics" / "kpis.duckdb",
    )
    database = resolve_database(settings)
    scratch = Scratch(settings=settings, database=database)
    try:
        yield scratch
    finally:
        if keep:
            print(f"\nkept: home {home}")
            print(f"      databases {', '.join(scratch.created)} on {database.url}")
            if database.embedded is not None:
                print(f"      (embedded server: ORCHESTRATOR_HOME={home} starts it again)")
        else:
            for name in list(scratch.created):
                scratch.drop(with_database(database.url, name))
        database.release()
        if not keep:
            shutil.rmtree(home, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Build


@dataclass
class Built:
    audit_rows: int
    source_rows: int
    report: BuildReport
    wall_seconds: float
    nodes: list[NodeResult]
    file_mb: float

    @property
    def models(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.resource_type == "model"]


def build(
    database_url: str, policy: LoadedPolicy, target: Path, threads: int, generated: Generated
) -> Built:
    nodes: list[NodeResult] = []
    started = time.perf_counter()
    report = build_marts(database_url, policy, target, threads=threads, on_node=nodes.append)
    wall = time.perf_counter() - started
    return Built(
        audit_rows=generated.audit_rows,
        source_rows=generated.source_rows,
        report=report,
        wall_seconds=wall,
        nodes=nodes,
        file_mb=target.stat().st_size / 1e6,
    )


# --------------------------------------------------------------------------------------------
# Queries


@dataclass(frozen=True)
class Latency:
    p50_ms: float
    p95_ms: float
    samples: int

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latency:
        values = list(seconds)
        return cls(statistics.median(values) * 1000, percentile(values, 0.95) * 1000, len(values))

    def __str__(self) -> str:
        return f"p50 {self.p50_ms:7.1f} ms  p95 {self.p95_ms:7.1f} ms"


def time_calls(call: Callable[[], object], repeats: int, warmup: int = 1) -> Latency:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return Latency.of(samples)


def fetch_all(conn: duckdb.DuckDBPyConnection, query: str, params: dict[str, Any]) -> None:
    conn.execute(query, params).fetchall()


def open_close(path: Path) -> None:
    conn = open_marts(path)
    assert conn is not None
    conn.close()


def measure_queries(
    path: Path, periods: dict[str, Period], repeats: int
) -> dict[str, dict[str, Latency]]:
    """Per period: each headline query on one read-only connection (`open_marts`), then
    `read_kpis` end to end and `open_marts` alone (what each `read_kpis` call pays first)."""
    results: dict[str, dict[str, Latency]] = {label: {} for label in periods}
    conn = open_marts(path)
    assert conn is not None, f"no marts at {path}"
    try:
        for label, period in periods.items():
            params = {"start": period.start, "end": period.end, "workflow": None}
            for name, query in HEADLINE_QUERIES.items():
                used = {k: v for k, v in params.items() if f"${k}" in query}
                call = functools.partial(fetch_all, conn, query, used)
                results[label][name] = time_calls(call, repeats)
    finally:
        conn.close()
    for label, period in periods.items():
        read = functools.partial(read_kpis, path, period.start, period.end)
        results[label]["read_kpis"] = time_calls(read, repeats)
        # What read_kpis pays before its first query (a fresh connection per call).
        results[label]["open_marts"] = time_calls(functools.partial(open_close, path), repeats)
    return results


# --------------------------------------------------------------------------------------------
# API


@dataclass
class ApiFigures:
    idle: dict[str, Latency]
    during: Latency | None
    during_requests: int
    during_statuses: dict[int, int]
    rebuild_seconds: float
    built_at_seen: list[str]
    concurrent: Latency | None = None
    concurrent_clients: int = 0
    concurrent_statuses: dict[int, int] = field(default_factory=dict)
    concurrent_errors: list[str] = field(default_factory=list)
    missing: str | None = None


class ApiServer:
    """`orchestrator serve` (create_app under uvicorn) in a subprocess on a free port."""

    def __init__(self, scratch: Scratch, database_url: str, log_path: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "ORCHESTRATOR_HOME": str(scratch.settings.home),
            "ANALYTICS_PATH": str(scratch.settings.kpis_path),
            "HUBSPOT_WEBHOOK_SECRET": SECRET,
            "JWT_SECRET": generate_secret(),
            "LOG_LEVEL": "WARNING",
        }
        self.log = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "orchestrator_cli", "serve", "--port", str(self.port)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited with {self.process.returncode}; see {log_path}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base_url}/health", timeout=1.0).status_code == 200:
                    break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"serve did not become healthy; see {log_path}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def create_viewer(database_url: str) -> tuple[str, str]:
    email = f"bench-viewer-{secrets.token_hex(4)}@harborlabs.example"
    password = secrets.token_urlsafe(24)

    async def create() -> None:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await create_user(conn, email=email, role="viewer", password=password, actor="bench")

    asyncio.run(create())
    return email, password


def get_status(client: httpx.Client, params: dict[str, str]) -> tuple[int, str]:
    """`GET /api/kpis`: the status and body, or 0 and the error when no answer came."""
    try:
        response = client.get("/api/kpis", params=params)
    except httpx.TransportError as exc:
        return 0, f"{type(exc).__name__}: {exc}"
    return response.status_code, response.text


def concurrent_requests(
    base_url: str, headers: dict[str, str], params: dict[str, str], clients: int, total: int
) -> tuple[Latency | None, dict[int, int], list[str]]:
    """`total` GET /api/kpis from `clients` threads at once: latency, statuses, the first
    error codes of the answers that were not 200."""
    if clients < 2:
        return None, {}, []
    lock = threading.Lock()
    samples: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    per_client = max(1, total // clients)

    def work() -> None:
        with httpx.Client(base_url=base_url, headers=headers, timeout=60.0) as client:
            for _ in range(per_client):
                started = time.perf_counter()
                status, text = get_status(client, params)
                elapsed = time.perf_counter() - started
                with lock:
                    samples.append(elapsed)
                    statuses[status] = statuses.get(status, 0) + 1
                    if status != 200 and len(errors) < 3:
                        errors.append(f"{status or 'no answer'}: {text[:300]}")

    workers = [threading.Thread(target=work) for _ in range(clients)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return Latency.of(samples), statuses, errors


def measure_api(
    scratch: Scratch,
    database_url: str,
    policy: LoadedPolicy,
    periods: dict[str, Period],
    requests: int,
    threads: int,
    clients: int,
) -> ApiFigures:
    """`GET /api/kpis` idle per period, from `clients` clients at once (30-day period), then
    from one client while a rebuild swaps the file."""
    server = ApiServer(scratch, database_url, scratch.settings.home / "serve.log")
    try:
        with httpx.Client(base_url=server.base_url, timeout=60.0) as client:
            paths = client.get("/openapi.json").json().get("paths", {})
            if "/api/kpis" not in paths:
                return ApiFigures({}, None, 0, {}, 0.0, [], missing="GET /api/kpis is not served")
            email, password = create_viewer(database_url)
            token = client.post("/api/auth/token", data={"username": email, "password": password})
            token.raise_for_status()
            client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

            def query(period: Period) -> dict[str, str]:
                return {"from": period.start.isoformat(), "to": period.end.isoformat()}

            def get_ok(period: Period) -> None:
                response = client.get("/api/kpis", params=query(period))
                if response.status_code != 200:
                    raise RuntimeError(f"GET /api/kpis: {response.status_code} {response.text}")

            idle = {
                label: time_calls(functools.partial(get_ok, period), requests, warmup=3)
                for label, period in periods.items()
            }

            # A rebuild in a background thread while readers keep asking.
            outcome: dict[str, Any] = {}

            def rebuild() -> None:
                started = time.perf_counter()
                try:
                    build_marts(database_url, policy, scratch.settings.kpis_path, threads=threads)
                except BaseException as exc:  # reported by the main thread
                    outcome["error"] = exc
                outcome["seconds"] = time.perf_counter() - started

            period = periods["30 days"]
            worker = threading.Thread(target=rebuild, name="rebuild")
            samples: list[float] = []
            statuses: dict[int, int] = {}
            built: list[str] = []
            worker.start()
            while worker.is_alive():
                started = time.perf_counter()
                status, text = get_status(client, query(period))
                samples.append(time.perf_counter() - started)
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    stamp = str(orjson.loads(text)["build"]["built_at"])
                    if not built or built[-1] != stamp:
                        built.append(stamp)
            worker.join()
            if "error" in outcome:
                raise RuntimeError(f"the rebuild failed: {outcome['error']}")
            # One more read: the file the rebuild published.
            status, text = get_status(client, query(period))
            if status == 200:
                stamp = str(orjson.loads(text)["build"]["built_at"])
                if not built or built[-1] != stamp:
                    built.append(stamp)
            # Last (a failure here must not spoil the figures above): several readers at once.
            concurrent = concurrent_requests(
                server.base_url, dict(client.headers), query(period), clients, requests
            )
            return ApiFigures(
                idle=idle,
                during=Latency.of(samples) if samples else None,
                during_requests=len(samples),
                during_statuses=statuses,
                rebuild_seconds=float(outcome["seconds"]),
                built_at_seen=built,
                concurrent=concurrent[0],
                concurrent_clients=clients,
                concurrent_statuses=concurrent[1],
                concurrent_errors=concurrent[2],
            )
    finally:
        server.stop()


# --------------------------------------------------------------------------------------------
# Output


def print_generated(generated: Generated) -> None:
    print(
        f"  generated in {generated.seconds:.1f} s (+ VACUUM ANALYZE {generated.vacuum_seconds:.1f}"
        f" s), {generated.source_rows:,} rows, database {generated.database_mb:,.0f} MB"
    )
    for table in TABLES:
        extra = generated.details.get(table)
        split = "  (" + ", ".join(f"{k} {v:,}" for k, v in extra.items()) + ")" if extra else ""
        print(f"    {table:<22} {generated.counts[table]:>11,}{split}")
    bands = generated.details["approval bands"]
    print("    approval amounts       " + ", ".join(f"{k} {v:,}" for k, v in bands.items()))
    for note in generated.notes:
        print(f"    note: {note}")


def print_built(built: Built) -> None:
    report = built.report
    print(
        f"  build_marts {built.wall_seconds:.1f} s (report {report.seconds:.1f} s),"
        f" {report.models} models, {report.tests} tests, file {built.file_mb:.1f} MB,"
        f" {built.source_rows / built.wall_seconds:,.0f} source rows/s"
        f" ({built.audit_rows / built.wall_seconds:,.0f} audit rows/s)"
    )
    models = sum(n.seconds for n in built.models)
    tests = sum(n.seconds for n in built.nodes if n.resource_type == "test")
    print(
        f"    node seconds: models {models:.1f} s, tests {tests:.1f} s (summed over threads;"
        " the rest of the wall time is dbt's start, parse and the publish)"
    )
    slowest = sorted(built.models, key=lambda n: n.seconds, reverse=True)[:5]
    print("    slowest models: " + ", ".join(f"{n.name} {n.seconds:.1f} s" for n in slowest))


def slope(small: Built, large: Built) -> str:
    """How the build time grew with the rows between two sizes: the ratios, and a line through
    both points (marginal rows/s, fixed seconds)."""
    time_ratio = large.wall_seconds / small.wall_seconds
    rows_ratio = large.source_rows / small.source_rows
    text = f"{rows_ratio:.2f}x the source rows took {time_ratio:.2f}x the build time"
    extra = large.wall_seconds - small.wall_seconds
    if extra <= 0.5:
        return text + " (fixed costs dominate at these sizes)"
    marginal = (large.source_rows - small.source_rows) / extra
    fixed = small.wall_seconds - small.source_rows / marginal
    return text + f"; marginal {marginal:,.0f} rows/s, fixed ~{fixed:.0f} s"


def readme_block(
    generated: dict[int, Generated],
    builds: dict[int, Built],
    queries: dict[str, dict[str, Latency]],
    api: ApiFigures | None,
    threads: int,
) -> list[str]:
    sizes = sorted(builds)
    lines = [f"Analytics (bench/analytics.py, {os.cpu_count()} cores, dbt threads {threads})"]
    for size in sizes:
        gen, b = generated[size], builds[size]
        lines.append(
            f"  {gen.audit_rows:>11,} audit rows ({gen.counts['workflow_runs']:,} runs,"
            f" {gen.source_rows:,} source rows):"
            f" generated {gen.seconds + gen.vacuum_seconds:.0f} s,"
            f" build {b.wall_seconds:.1f} s ({b.source_rows / b.wall_seconds:,.0f} rows/s),"
            f" marts {b.file_mb:.0f} MB"
        )
    if len(sizes) >= 2:
        lines.append(f"  slope: {slope(builds[sizes[0]], builds[sizes[-1]])}")
    for label, figures in queries.items():
        lines.append(f"  queries, {label} (p50/p95 ms):")
        lines.append(
            "    "
            + ", ".join(
                f"{name} {lat.p50_ms:.1f}/{lat.p95_ms:.1f}" for name, lat in figures.items()
            )
        )
    if api is None:
        lines.append("  GET /api/kpis: not measured")
    elif api.missing:
        lines.append(f"  GET /api/kpis: NOT MEASURED ({api.missing})")
    else:
        idle = ", ".join(
            f"{label} p50 {lat.p50_ms:.1f} / p95 {lat.p95_ms:.1f} ms"
            for label, lat in api.idle.items()
        )
        lines.append(f"  GET /api/kpis idle: {idle}")
        if api.concurrent is not None:
            lat = api.concurrent
            non_200 = sum(n for status, n in api.concurrent_statuses.items() if status != 200)
            lines.append(
                f"  GET /api/kpis, {api.concurrent_clients} clients at once: 30 days"
                f" p50 {lat.p50_ms:.1f} / p95 {lat.p95_ms:.1f} ms, {non_200} of"
                f" {lat.samples} answers not 200"
            )
        if api.during is not None:
            lines.append(
                f"  GET /api/kpis during a rebuild ({api.rebuild_seconds:.0f} s,"
                f" {api.during_requests} requests, all 200:"
                f" {'yes' if set(api.during_statuses) == {200} else 'NO'}): 30 days"
                f" p50 {api.during.p50_ms:.1f} / p95 {api.during.p95_ms:.1f} ms"
            )
    return lines


# --------------------------------------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    return sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--audit-rows", type=int, default=1_000_000)
    parser.add_argument(
        "--sizes", type=parse_sizes, help="audit rows of each build (default: N/4 and N)"
    )
    parser.add_argument("--threads", type=int, default=2, help="dbt threads of the build")
    parser.add_argument("--repeats", type=int, default=20, help="timed runs of each query")
    parser.add_argument("--requests", type=int, default=50, help="timed GET /api/kpis per period")
    parser.add_argument(
        "--clients", type=int, default=4, help="concurrent GET /api/kpis clients (1: skip)"
    )
    parser.add_argument("--no-api", action="store_true", help="skip GET /api/kpis")
    parser.add_argument("--keep", action="store_true", help="keep the databases, home and marts")
    args = parser.parse_args()
    sizes: list[int] = args.sizes or sorted({max(1000, args.audit_rows // 4), args.audit_rows})

    policy = load_policy(Settings().policy_path)
    generated: dict[int, Generated] = {}
    builds: dict[int, Built] = {}
    queries: dict[str, dict[str, Latency]] = {}
    api: ApiFigures | None = None
    failed = False
    with scratch_server(args.keep) as scratch:
        where = scratch.settings.home if scratch.database.embedded else "DATABASE_URL's server"
        print(f"server: {where}")
        largest_url = ""
        for size in sizes:
            print(f"\n{size:,} audit rows")
            url = scratch.create(f"{size}")
            generated[size] = generate(url, size, policy)
            print_generated(generated[size])
            largest = size == sizes[-1]
            target = (
                scratch.settings.kpis_path
                if largest
                else scratch.settings.kpis_path.with_name(f"kpis-{size}.duckdb")
            )
            builds[size] = build(url, policy, target, args.threads, generated[size])
            print_built(builds[size])
            if largest:
                largest_url = url
            elif not args.keep:
                scratch.drop(url)
                target.unlink(missing_ok=True)
        if len(sizes) >= 2:
            print(f"\nslope: {slope(builds[sizes[0]], builds[sizes[-1]])}")

        built_day: date = builds[sizes[-1]].report.built_at.date()
        periods = {
            "30 days": Period.ending(built_day, 30),
            "90 days": Period.ending(built_day, 90),
        }
        print(f"\nheadline queries on {scratch.settings.kpis_path.name} (read-only), p50/p95:")
        queries = measure_queries(scratch.settings.kpis_path, periods, args.repeats)
        for label, figures in queries.items():
            print(f"  {label} ({periods[label].start} to {periods[label].end}):")
            for name, latency in figures.items():
                print(f"    {name:<14} {latency}")

        if not args.no_api:
            print("\nGET /api/kpis (orchestrator serve, viewer token):")
            api = measure_api(
                scratch, largest_url, policy, periods, args.requests, args.threads, args.clients
            )
            if api.missing:
                print(f"  NOT MEASURED: {api.missing} by this app (ingest_api/routes/kpis.py)")
            else:
                for label, latency in api.idle.items():
                    print(f"  idle, {label:<8} {latency}  ({latency.samples} requests)")
                if api.concurrent is not None:
                    print(
                        f"  {api.concurrent_clients} clients at once, 30 days  {api.concurrent}"
                        f"  ({api.concurrent.samples} requests; statuses {api.concurrent_statuses})"
                    )
                    for error in api.concurrent_errors:
                        print(f"    not 200: {error}")
                    if set(api.concurrent_statuses) != {200}:
                        print("  FAILED: not every answer to concurrent readers was a 200")
                        failed = True
                if api.during is not None:
                    print(
                        f"  during rebuild  {api.during}  ({api.during_requests} requests over"
                        f" the {api.rebuild_seconds:.1f} s rebuild; statuses {api.during_statuses};"
                        f" builds seen {len(api.built_at_seen)})"
                    )
                if set(api.during_statuses) != {200}:
                    print("  FAILED: not every answer during the rebuild was a 200")
                    failed = True
                if len(api.built_at_seen) < 2:
                    print("  note: the readers never saw the new build")

    print("\n--- README ---")
    for line in readme_block(generated, builds, queries, api, args.threads):
        print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
