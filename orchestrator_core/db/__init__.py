"""Postgres: which server to use, its schema migrations, connection URLs per driver, and the
process's pool (`pool.Database`) with the advisory-lock helper the ledger and the runner share."""
