"""The HTTP service: HubSpot webhook ingest and the product's API. Never imports Dagster."""
