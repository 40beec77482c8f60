"""Execute one job of the product's code location in this process, against the instance at
DAGSTER_HOME: a separate process per call, as the run launcher would start.

    python -m tests.orchestration.run_job <job name> '<run config json>' '<tags json>'

Prints one JSON line: the run id, whether it succeeded, and the run's tags.
"""

from __future__ import annotations

import json
import sys

import dagster as dg

from orchestrator_defs.definitions import defs


def main() -> int:
    job_name, run_config, tags = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
    instance = dg.DagsterInstance.get()
    result = defs.resolve_job_def(job_name).execute_in_process(
        run_config=run_config, instance=instance, tags=tags, raise_on_error=False
    )
    run = instance.get_run_by_id(result.run_id)
    print(  # the parent test reads this line
        json.dumps(
            {
                "run_id": result.run_id,
                "success": result.success,
                "tags": dict(run.tags) if run else {},
            }
        )
    )
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
