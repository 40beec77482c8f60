"""The `orchestrator` command: one entry point, one subcommand module per concern."""
