"""The product's own records of its work, and the rules that change them: workflow runs and
their attempts (`runs`), how received events become runs (`dispatch`, `keys`), approvals and the
rules of deciding them (`approvals`, `approval_rules`), exceptions (`exceptions`) and budget
commitments (`budget`). Every state change appends its audit row in the same transaction.

Functions take a psycopg connection: the API passes a pooled async one, a Dagster run one of
its `Database`, a sensor tick a short-lived one. The API's list and detail reads are in
`orchestrator_core.queries`."""
