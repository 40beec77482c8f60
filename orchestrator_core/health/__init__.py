"""The health of every dependency: the database, its migrations, the Dagster daemon (read from
Dagster's storage with plain SQL) and the vendor connectors (a cached cheap authenticated call),
for the API's `/health` routes and `orchestrator doctor` alike. Never imports Dagster or the
connectors."""
