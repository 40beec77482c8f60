"""The four business workflows as LangGraph graphs (no Dagster here): company intake, contact
role mapping, deal kickoff and procurement approval. Each graph reads the workflow run it serves
and every connector from its `WorkflowContext`, writes to vendors only through the side-effect
ledger, and reports problems as issues in its state (the runner opens exceptions for them)."""
