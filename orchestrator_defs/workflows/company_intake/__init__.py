"""Company intake: a HubSpot company created, or its lifecycle stage or type changed.

1. `fetch_company` reads the company with its contacts and deals. A company deleted since the
   event ends the run as `object_missing` with an info issue; a merged-away id answers with the
   surviving company, which the run then acts on.
2. `enrich` normalises name, domain, industry, size band and type (`ctx.enricher`: the model
   when configured, else rules; the rules answer if the model fails), flagging answers below
   the policy's `role_mapping.min_confidence` for review.
3. `validate` turns the enricher's problems into `data_quality` issues. A missing name or no
   usable domain blocks: the run ends `data_quality_exception` without mirroring. Everything
   else (odd industry, employee count, type, a bad domain property when the website gave a
   valid domain) only warns and the company is mirrored (`quality.py` has the full list).
4. `mirror_account` upserts the Airtable Accounts record keyed on "HubSpot ID".
5. `attach_sop` creates the Notion SOP page for the company type (policy
   `company_intake.sop_template_for`) under the SOP parent, once per company and template
   across all runs; `link_sop` writes its link into the Accounts record.
6. `request_kickoff`: when an event of the run changed the policy's lifecycle property to a
   stage with a rule, it requests a `deal_kickoff` child run (once per run; blocked companies
   included).
7. `finish` sets the outcome: `mirrored`, `data_quality_exception` or `object_missing`.
"""

from __future__ import annotations

from orchestrator_defs.workflows.company_intake.graph import build_graph

__all__ = ["build_graph"]
