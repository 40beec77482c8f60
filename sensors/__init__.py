"""Dagster sensors that turn stored envelopes into runs (built by the orchestration work)."""
