"""Code shared by the ingest API and the Dagster code: settings, database, event store, policy,
side-effect ledger, workflow records (`records`) and the API's reads (`queries`), audit log,
users."""
