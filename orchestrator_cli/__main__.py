from orchestrator_cli.main import cli

cli()
