"""KPI analytics: the dbt project `dbt_audit/` builds marts in a DuckDB file from the product's
Postgres tables (read through DuckDB's postgres extension, loaded from its PyPI wheel), and
this package builds, publishes and reads that file.

`extension.py` opens DuckDB offline with the extension, `source.py` says how DuckDB reaches
Postgres (no password in any string), `project.py` is the dbt project's inputs (variables,
environment, manifest), `publish.py` builds into a fresh file and swaps it in, `build.py` runs
a whole build from the command line, `kpis.py` and `query.py` read the published marts.
"""
