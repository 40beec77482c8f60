"""HubSpot webhook events: parsing into envelopes, and the Postgres event store."""
