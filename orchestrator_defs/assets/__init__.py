"""What the workflows write, as Dagster assets: the lineage HubSpot events → workflow outputs →
audit tables that the Dagster UI shows."""
