"""Postgres: which server to use, its schema migrations, and connection URLs per driver."""
