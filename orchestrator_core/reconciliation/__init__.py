"""Reconciliation of HubSpot with its mirrors (Airtable Accounts and Contacts, the calendar
events of approved kickoffs): the comparison rules (`compare.py`, pure), the likely causes
(`causes.py`, pure, fed by `evidence.py`), a pass (`passes.py`), its records (`store.py`) and
the repair of drifts by replay (`repair.py`). See docs/reconciliation.md."""
