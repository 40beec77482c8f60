"""Code shared by the ingest API and the Dagster code: settings, database, event store."""
