"""Run cost benchmark: where one Dagster run's CPU seconds go, and where an idle event's time to
its first workflow step goes.

Two parts (`--part imports`, `--part stack`, default both):

**imports** (no stack): the CPU a fresh interpreter spends on `import dagster` and on
`import orchestrator_defs.definitions` (the code location a run worker loads), each measured
as the child's own rusage (so other load on the machine does not add to it, though it still
slows the caches), median of `--repeats`; `-X importtime` (wall-clock: top modules by cumulative
time, self time by top-level package) and cProfile of the import (top functions by own time). Run
with the environment of this shell, as the stack's processes are: PYTHONDONTWRITEBYTECODE=1
means `-B`, so this repo's own modules (no .pyc in an editable install) compile every time.

**stack**: starts the product as `orchestrator dev` does (fresh embedded Postgres, API,
sandbox, Dagster webserver and daemon), measures the idle CPU of each process tree for
`--idle-seconds`, then sends `--events` single `company.creation` webhooks, each only once the
previous run has ended and the stack has been idle for a random 2-6 s (so the sensor tick's phase
varies), and prints:

- the latency of each event, stage by stage (p50/p95): envelope stored → dispatched by the
  sensor tick (`workflow_runs.requested_at`) → Dagster run created (`runs.create_timestamp`) →
  dequeued and launched (`PIPELINE_STARTING`) → worker process up (`ENGINE_EVENT` "Started
  process") → run started (`PIPELINE_START`, after the code location import) → step started
  (`STEP_START`, after resource setup) → attempt begun (`workflow_run_attempts.started_at`: thread
  lock, checkpointer, state read) → first node done (the thread's step-1 checkpoint);
- the CPU each process spent per event, idle rate removed: the run worker (exact, from its own
  rusage at exit, and its children's), the daemon process, the daemon's code server (sampled
  every 0.5 s: the daemon replaces its code server every 60 s, and a new server's first 30 s
  are counted as a restart, apart), Postgres (every backend, reaped ones through the
  postmaster's child counters), the API, the sandbox, the webserver; per-process means are over
  the events whose window saw no code server restart and no other run (the approval deadlines
  schedule runs every 5 minutes; events and the idle window are timed to miss it);
- the run worker's CPU split by phase, from a CPU-time stack sampler inside the worker
  (`sitecustomize` on PYTHONPATH, active only in multiprocessing spawn children and in
  children of a multiprocessing forkserver: SIGPROF every 5 ms of the process's CPU time; the
  handler, ~40 µs, charges the main thread's current stack with the process CPU used since the
  last sample),
  with the part spent importing modules (and compiling sources) shown per phase and package;
- Dagster event-log rows per run by type, LangGraph checkpoint rows per run, and row writes per
  run by table (pg_stat_user_tables, idle rate removed).

A Dagster run with the default run launcher is not `dagster api execute_run`: the daemon asks its
code server (`dagster api grpc`) to start the run, and the server starts a
`multiprocessing` spawn child (`python -B -c "from multiprocessing.spawn import spawn_main…"
--multiprocessing-fork`) that unpickles the job, builds a `DagsterInstance`, imports the code
location and executes the run. That child is what "run worker" means here.

Wall-clock latencies are noisy on a shared machine: run it when the machine is quiet, and
compare p50s over several invocations. CPU seconds are per process, so other processes' work is
not counted, but contention for the cores still inflates them (caches, SMT siblings): compare
runs made under a similar load average, which the script prints.

    .venv/bin/python bench/run_cost.py [--events 10] [--idle-seconds 60] [--no-sampler]

To try a Dagster setting without touching the product, `--instance-extra FILE.yaml` replaces
top-level keys of the dagster.yaml the stack runs with (e.g. `compute_logs:` for the no-op
compute log manager); `--sitecustomize-extra FILE.py` appends code to every stack process's
sitecustomize (for throwaway experiments such as patching a Dagster constant).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
import psycopg
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest_api.signature import sign
from orchestrator_cli.dagster_instance import instance_config
from orchestrator_cli.stack import Ports, Stack, running_stack
from orchestrator_core.settings import Settings

REPO = Path(__file__).resolve().parents[1]
COMPANY_IDS = list(range(9001, 9041))  # the sandbox seed's companies
PORTAL_ID = 62515
CODE_LOCATION = "orchestrator_defs.definitions"
SECRET = "bench-run-cost-secret"
# The approval deadlines schedule runs every 5 minutes; its run is kept out of the windows.
DEADLINES_PERIOD = 300.0
DEADLINES_BEFORE = 20.0  # seconds kept free before a run is due
DEADLINES_AFTER = 75.0  # seconds after it is due, by which its run has ended

# ---------------------------------------------------------------------------------------------
# The probe: a sitecustomize module, active only in a run worker.

PROBE = r'''
"""bench/run_cost.py's probe, imported by every Python process of the benchmark's stack through
PYTHONPATH. Only in a multiprocessing spawn child (a Dagster run worker) does it do anything:
rusage at start and at exit and, with RUNCOST_SAMPLE=1, a CPU-time stack sampler (SIGPROF)."""
import os
import sys


def _runcost_probe(forked=False):
    import atexit
    import json
    import resource
    import signal
    import time

    out_dir = os.environ["RUNCOST_PROBE_DIR"]
    born = time.time()

    def cpu(who):
        usage = resource.getrusage(who)
        return usage.ru_utime + usage.ru_stime

    startup = cpu(resource.RUSAGE_SELF)
    weights = {}
    hot = {}
    state = {"last": time.process_time(), "samples": 0, "sampled": 0.0}

    # (path fragment, function or None, phase); the innermost matching frame names the phase.
    major = (
        ("multiprocessing/spawn.py", "_main", "spawn: unpickle the job (imports dagster)"),
        ("dagster/_grpc/impl.py", "start_run_in_subprocess", "dagster: run machinery"),
        ("dagster/_core/instance/", "from_ref", "dagster: DagsterInstance.from_ref"),
        ("dagster/_core/definitions/reconstruct.py", "get_definition", "code location load"),
        ("dagster/_core/code_pointer.py", None, "code location load"),
        ("dagster/_core/execution/resources_init.py", None, "resource setup + teardown"),
        ("", "setup_for_execution", "resource setup + teardown"),
        ("dagster/_core/storage/runs/", None, "dagster: run storage writes"),
        ("dagster_postgres/run_storage/", None, "dagster: run storage writes"),
        ("", "add_run_tags", "dagster: run storage writes"),
        ("dagster/_core/storage/event_log/", None, "dagster: event log writes"),
        ("dagster_postgres/event_log/", None, "dagster: event log writes"),
        ("", "log_dagster_event", "dagster: event log writes"),
        ("", "handle_new_event", "dagster: event log writes"),
        ("", "report_engine_event", "dagster: event log writes"),
        ("", "report_dagster_event", "dagster: event log writes"),
        ("dagster/_core/storage/local_compute_log_manager.py", None, "dagster: compute logs"),
        ("dagster/_core/execution/compute_logs.py", None, "dagster: compute logs"),
        ("orchestrator_defs/assets/workflow_assets.py", "_phase", "op body outside the graph"),
        ("orchestrator_defs/runtime/runner.py", "drive", "workflow"),
    )
    # Within "workflow", the innermost matching frame names the part.
    repo = os.environ.get("RUNCOST_REPO", "/nonexistent")
    minor = (
        ("/langgraph/", "LangGraph engine"),
        (repo + "/orchestrator_defs/workflows/", "graph nodes (own code)"),
        (repo + "/orchestrator_core/", "own records, audit, ledger, locks"),
        (repo + "/resources/", "vendor connectors (HTTP to the sandbox)"),
        (repo + "/resources/enrichment/", "enricher"),
        ("/hubspot/", "vendor connectors (HTTP to the sandbox)"),
        ("/pyairtable/", "vendor connectors (HTTP to the sandbox)"),
        ("/notion_client/", "vendor connectors (HTTP to the sandbox)"),
        ("/googleapiclient/", "vendor connectors (HTTP to the sandbox)"),
        ("/langgraph/checkpoint/", "LangGraph checkpoints (PostgresSaver, serde)"),
    )

    def classify(frame):
        frames = []
        while frame is not None:
            frames.append(frame)
            frame = frame.f_back
        frames.reverse()  # outermost first
        phase = "interpreter/bootstrap"
        part = ""
        in_workflow = False
        module = ""
        compiling = False
        for f in frames:
            code = f.f_code
            path = code.co_filename
            name = code.co_name
            for fragment, func, label in major:
                if (func is None or func == name) and fragment in path:
                    phase = label
                    if label == "workflow":
                        in_workflow = True
                        part = "other"
                    elif in_workflow and label.startswith("dagster"):
                        in_workflow = False
                    break
            if in_workflow:
                for fragment, label in minor:
                    if fragment in path:
                        part = label
            if path == "<frozen importlib._bootstrap>" and name == "_find_and_load":
                try:
                    module = str(f.f_locals.get("name", "?"))
                except Exception:
                    module = "?"
            elif name == "source_to_code":
                compiling = True
        if in_workflow:
            phase = "workflow: " + part
        innermost = frames[-1].f_code if frames else None
        where = ""
        if innermost is not None:
            path = innermost.co_filename
            cut = path.find("site-packages/")
            path = path[cut + 14:] if cut >= 0 else path.replace(os.getcwd() + "/", "")
            where = f"{path}:{innermost.co_name}"
        return phase, module.split(".")[0] if module else "", compiling, where

    def on_prof(signum, frame):
        now = time.process_time()
        delta = now - state["last"]
        state["last"] = now
        if frame is None:
            return
        try:
            phase, package, compiling, where = classify(frame)
        except Exception:
            return
        key = f"{phase}|{package}|{int(compiling)}"
        weights[key] = weights.get(key, 0.0) + delta
        hot[where] = hot.get(where, 0.0) + delta
        state["samples"] += 1
        state["sampled"] += delta

    sampling = os.environ.get("RUNCOST_SAMPLE") == "1"
    if sampling:
        # SIGPROF every 5 ms of the process's CPU time; the handler runs in the main thread
        # (where the run executes) at its next bytecode, with the frame it interrupted.
        signal.signal(signal.SIGPROF, on_prof)
        signal.siginterrupt(signal.SIGPROF, False)  # restart interrupted system calls
        signal.setitimer(signal.ITIMER_PROF, 0.005, 0.005)

    def dump():
        if state.get("dumped"):
            return
        state["dumped"] = True
        if sampling:
            signal.setitimer(signal.ITIMER_PROF, 0, 0)
        try:
            with open(f"/proc/{os.getppid()}/cmdline", "rb") as handle:
                parent = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            parent = ""
        report = {
            "pid": os.getpid(),
            "ppid": os.getppid(),
            "parent": parent[:300],
            "born": born,
            "exited": time.time(),
            "startup_cpu": startup,
            "self_cpu": cpu(resource.RUSAGE_SELF),
            "children_cpu": cpu(resource.RUSAGE_CHILDREN),
            "samples": state["samples"],
            "sampled_cpu": state["sampled"],
            "weights": weights,
            "hot": sorted(hot.items(), key=lambda item: -item[1])[:60],
        }
        path = os.path.join(out_dir, f"worker-{os.getpid()}.json")
        with open(path, "w") as handle:
            json.dump(report, handle)

    atexit.register(dump)
    if forked:
        # A child forked by a multiprocessing forkserver ends with os._exit: no atexit there.
        real_exit = os._exit

        def exit_after_dump(code):
            dump()
            real_exit(code)

        os._exit = exit_after_dump


if os.environ.get("RUNCOST_PROBE_DIR"):
    if "--multiprocessing-fork" in sys.argv:  # a spawn child
        _runcost_probe()
    elif sys.argv == ["-c"]:  # maybe a forkserver: its children are workers too
        os.register_at_fork(after_in_child=lambda: _runcost_probe(forked=True))
'''


# ---------------------------------------------------------------------------------------------
# Small helpers.


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def p50_p95(values: Sequence[float]) -> str:
    if not values:
        return "      -        -"
    return f"{statistics.median(values):7.2f}  {percentile(values, 0.95):7.2f}"


def child_cpu(args: list[str], env: dict[str, str] | None = None) -> tuple[float, str, str]:
    """Run a child and return its own CPU seconds (rusage of the reaped child) and its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=True, cwd=REPO)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return used, done.stdout, done.stderr


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs"


# ---------------------------------------------------------------------------------------------
# Part 1: imports.


def measure_imports(repeats: int) -> None:
    python = sys.executable
    print("== imports (fresh interpreter, the child's own CPU; median and min of", repeats, "runs)")
    print(
        f"   PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!s}"
        " (set: sources without a .pyc, i.e. this repo's own modules, compile every time)"
    )
    print(f"   {load_average()}")
    cases = [
        ("interpreter only (python -c pass)", "pass"),
        ("import dagster", "import dagster"),
        (
            "import langgraph.graph.state (via langchain_core, langsmith)",
            "import langgraph.graph.state",
        ),
        (f"import {CODE_LOCATION}", f"import {CODE_LOCATION}"),
    ]
    for label, code in cases:
        runs = [child_cpu([python, "-c", code])[0] for _ in range(repeats)]
        print(f"   {statistics.median(runs):6.2f} s  (min {min(runs):5.2f})  {label}")

    _, _, stderr = child_cpu([python, "-X", "importtime", "-c", f"import {CODE_LOCATION}"])
    rows = parse_importtime(stderr)
    total_self = sum(self_us for self_us, _, _ in rows) / 1e6
    print(f"\n   -X importtime: {len(rows)} modules, {total_self:.2f} s of import time in all")
    print("   top 15 by cumulative time (nested: a module's figure includes what it imports)")
    for self_us, cumulative_us, name in sorted(rows, key=lambda row: -row[1])[:15]:
        print(f"   {cumulative_us / 1e6:6.3f} s cumulative  {self_us / 1e6:6.3f} s self  {name}")
    by_package: Counter[str] = Counter()
    for self_us, _, name in rows:
        by_package[name.split(".")[0]] += self_us
    print("   self time by top-level package (top 15)")
    for package, self_us in by_package.most_common(15):
        print(f"   {self_us / 1e6:6.3f} s  {package}")

    profile_code = (
        "import cProfile, pstats, io\n"
        "profiler = cProfile.Profile()\n"
        f"profiler.runcall(__import__, {CODE_LOCATION!r})\n"
        "stream = io.StringIO()\n"
        "stats = pstats.Stats(profiler, stream=stream)\n"
        "stats.sort_stats('tottime').print_stats(12)\n"
        "print(stream.getvalue())\n"
    )
    _, stdout, _ = child_cpu([python, "-c", profile_code])
    print("\n   cProfile of the import: top 12 functions by own time (profiler overhead included)")
    lines = stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if "function calls" in line), 0)
    for line in lines[start:]:
        if line.strip():
            print("   " + line.rstrip()[:150])
    print()


def parse_importtime(stderr: str) -> list[tuple[int, int, str]]:
    rows = []
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)", line)
        if match:
            rows.append((int(match[1]), int(match[2]), match[3]))
    return rows


# ---------------------------------------------------------------------------------------------
# Part 2: the stack.


@dataclass
class Trees:
    """CPU seconds of each process tree of the stack, exact across exits: a tree's figure is
    its processes' own CPU plus the child counters of each (what they reaped)."""

    stack: Stack
    postmaster: psutil.Process
    roots: dict[str, psutil.Process] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for child in self.stack.children:
            self.roots[child.name] = psutil.Process(child.process.pid)
        self.roots["postgres"] = self.postmaster

    def snapshot(self) -> dict[str, float]:
        figures: dict[str, float] = {}
        for name, root in self.roots.items():
            total = 0.0
            daemon_own = 0.0
            for proc in [root, *_descendants(root)]:
                try:
                    times = proc.cpu_times()
                except (psutil.NoSuchProcess, psutil.ZombieProcess):
                    continue
                own = times.user + times.system
                total += own + times.children_user + times.children_system
                if proc.pid == root.pid:
                    daemon_own = own
            figures[name] = total
            if name == "dagster-daemon":
                figures["daemon process"] = daemon_own
        return figures

    def code_servers(self) -> list[psutil.Process]:
        daemon = self.roots["dagster-daemon"]
        return [p for p in _children(daemon) if "grpc" in " ".join(_cmdline(p))]

    def workers(self) -> list[psutil.Process]:
        """Run workers: spawn children of a code server, or children of its forkserver."""
        found = []
        for server in self.code_servers():
            for child in _children(server):
                line = " ".join(_cmdline(child))
                if "--multiprocessing-fork" in line:
                    found.append(child)
                elif "multiprocessing.forkserver" in line:
                    found.extend(_children(child))
        return found


def _children(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return proc.children()
    except psutil.NoSuchProcess:
        return []


def _descendants(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return proc.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return []


class ServerWatch(threading.Thread):
    """The own CPU of each of the daemon's code servers, sampled every 0.5 s: the daemon drops
    its code server every 60 s (`RELOAD_WORKSPACE_INTERVAL`) and starts a new one, which
    imports the code location again; those restarts are counted apart from the per-event CPU."""

    YOUNG = 30.0  # seconds after its start during which a server counts as starting up

    def __init__(self, trees: Trees) -> None:
        super().__init__(name="server-watch", daemon=True)
        self.trees = trees
        self.halt = threading.Event()
        self.lock = threading.Lock()
        self.started_at = time.time()
        self.born: dict[int, float] = {}
        self.series: dict[int, list[tuple[float, float]]] = {}

    def run(self) -> None:
        while not self.halt.wait(0.5):
            now = time.time()
            for proc in self.trees.code_servers():
                try:
                    times, born = proc.cpu_times(), proc.create_time()
                except (psutil.NoSuchProcess, psutil.ZombieProcess):
                    continue
                with self.lock:
                    self.born.setdefault(proc.pid, born)
                    self.series.setdefault(proc.pid, []).append((now, times.user + times.system))

    def _at(self, pid: int, moment: float) -> float:
        last = 0.0
        for when, value in self.series[pid]:
            if when > moment:
                break
            last = value
        return last

    def steady(self, start: float, end: float) -> tuple[float, bool]:
        """CPU of the servers past their start-up during [start, end], and whether a server
        was starting up in that window."""
        with self.lock:
            total = 0.0
            overlap = False
            for pid, born in self.born.items():
                if born + self.YOUNG > start and born < end:
                    overlap = True
                    continue
                total += self._at(pid, end) - self._at(pid, start)
            return total, overlap

    def restarts(self) -> list[float]:
        """CPU of each server started during the benchmark, over its first YOUNG seconds."""
        with self.lock:
            return [
                self._at(pid, born + self.YOUNG)
                for pid, born in self.born.items()
                if born > self.started_at and self.series[pid][-1][0] >= born + self.YOUNG
            ]


def postmaster_of(settings: Settings, database_url: str) -> psutil.Process:
    pid_file = settings.home / "pgdata" / "postmaster.pid"
    if pid_file.exists():
        return psutil.Process(int(pid_file.read_text().split()[0]))
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    return psutil.Process(int(row[0])).parent()  # type: ignore[return-value]


def pg_writes(database_url: str) -> dict[str, int]:
    """Rows inserted + updated + deleted so far, per table; transactions and connections."""
    with psycopg.connect(database_url) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        rows = conn.execute(
            "SELECT schemaname || '.' || relname, n_tup_ins + n_tup_upd + n_tup_del"
            " FROM pg_stat_user_tables"
        ).fetchall()
        totals = conn.execute(
            "SELECT xact_commit, sessions FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    figures = {str(name): int(count) for name, count in rows}
    if totals:
        figures["(transactions committed)"] = int(totals[0])
        figures["(connections opened)"] = int(totals[1])
    return figures


def send_event(client: httpx.Client, api_url: str, index: int) -> None:
    event = {
        "eventId": 7_000_000 + index,
        "subscriptionId": 1100,
        "portalId": PORTAL_ID,
        "appId": 54321,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": "company.creation",
        "attemptNumber": 0,
        "changeSource": "CRM_UI",
        "objectId": COMPANY_IDS[index % len(COMPANY_IDS)],
    }
    body = orjson.dumps([event]).decode()
    url = f"{api_url}/webhooks/hubspot"
    headers = {"Content-Type": "application/json", **sign(secret=SECRET, body=body, uri=url)}
    client.post("/webhooks/hubspot", content=body.encode(), headers=headers).raise_for_status()


def wait_run_done(database_url: str, trees: Trees, finished: int, timeout: float) -> None:
    """Until `finished` workflow runs have ended, their Dagster runs too, and no worker is left."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with psycopg.connect(database_url) as conn:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM orchestrator.workflow_runs"
                "        WHERE status IN ('succeeded', 'failed', 'awaiting_approval')),"
                "       (SELECT count(*) FROM dagster.runs"
                "        WHERE status IN ('SUCCESS', 'FAILURE', 'CANCELED'))"
            ).fetchone()
        assert row is not None
        if row[0] >= finished and row[1] >= finished and not trees.workers():
            return
        time.sleep(0.25)
    raise SystemExit(f"run {finished} not finished within {timeout:.0f} s")


def clear_of_deadlines_run(needed: float) -> None:
    """Wait until `needed` seconds fit before the approval deadlines schedule's next run (cron
    */5, a multiprocess-executor run of two processes) and after its last one."""
    while True:
        now = time.time()
        since = now % DEADLINES_PERIOD
        if since > DEADLINES_AFTER and since + needed < DEADLINES_PERIOD - DEADLINES_BEFORE:
            return
        time.sleep(1.0)


def wait_ready(database_url: str, trees: Trees, timeout: float = 180.0) -> None:
    """Until the daemon has a code server and the event sensor has ticked."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with psycopg.connect(database_url) as conn:
            row = conn.execute("SELECT count(*) FROM dagster.job_ticks").fetchone()
        if row and row[0] > 0 and trees.code_servers():
            return
        time.sleep(1.0)
    raise SystemExit("the event sensor never ticked")


@dataclass
class Window:
    start: float  # time.time()
    end: float
    cpu: dict[str, float]
    writes: dict[str, int]

    @property
    def seconds(self) -> float:
        return self.end - self.start


def subtract(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    return {key: after.get(key, 0) - before.get(key, 0) for key in after}


def measure_stack(args: argparse.Namespace) -> None:
    home = Path(tempfile.mkdtemp(prefix="bench-run-cost-"))
    probe_dir = home / "probe"
    probe_dir.mkdir()
    extra = Path(args.sitecustomize_extra).read_text() if args.sitecustomize_extra else ""
    (probe_dir / "sitecustomize.py").write_text(PROBE + "\n" + extra)
    results_dir = home / "probe-results"
    results_dir.mkdir()
    os.environ["ORCHESTRATOR_HOME"] = str(home)
    os.environ.pop("DAGSTER_HOME", None)
    if args.instance_extra:
        # The product's dagster.yaml with these keys replaced, written without the product's
        # header line so that the stack keeps it.
        config = {**instance_config(), **yaml.safe_load(Path(args.instance_extra).read_text())}
        dagster_home = home / "dagster_home"
        dagster_home.mkdir()
        (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        os.environ["DAGSTER_HOME"] = str(dagster_home)
        print(f"   dagster.yaml with {args.instance_extra}: {sorted(config)}")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(probe_dir), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    os.environ["RUNCOST_PROBE_DIR"] = str(results_dir)
    os.environ["RUNCOST_SAMPLE"] = "0" if args.no_sampler else "1"
    os.environ["RUNCOST_REPO"] = str(REPO)
    settings = Settings(orchestrator_home=home, hubspot_webhook_secret=SECRET)
    ports = Ports(api=free_port(), dagster=free_port(), sandbox=free_port())
    print(f"== stack in {home} ({load_average()})")
    with running_stack(settings, ports, webhook_secret=SECRET) as stack:
        url = stack.database.url
        trees = Trees(stack, postmaster_of(settings, url))
        wait_ready(url, trees)
        watch = ServerWatch(trees)
        watch.start()
        time.sleep(5.0)
        clear_of_deadlines_run(args.idle_seconds + 5.0)
        cpu0, writes0, t0 = trees.snapshot(), pg_writes(url), time.time()
        time.sleep(args.idle_seconds)
        idle = Window(t0, time.time(), subtract(trees.snapshot(), cpu0), {})
        idle.writes = subtract(pg_writes(url), writes0)
        print(f"   idle window {idle.seconds:.0f} s; {load_average()}")

        windows: list[Window] = []
        writes_start = pg_writes(url)
        events_start = time.time()
        with httpx.Client(base_url=stack.api_url, timeout=15.0) as client:
            for index in range(args.events):
                time.sleep(random.uniform(args.gap_min, args.gap_max))
                clear_of_deadlines_run(30.0)
                before, started = trees.snapshot(), time.time()
                send_event(client, stack.api_url, index)
                wait_run_done(url, trees, index + 1, timeout=300.0)
                time.sleep(args.settle)
                windows.append(Window(started, time.time(), subtract(trees.snapshot(), before), {}))
                print(f"   event {index + 1}/{args.events} done ({load_average()})")
        time.sleep(11.0)  # idle backends flush their table statistics within 10 s
        events_seconds = time.time() - events_start
        writes = subtract(pg_writes(url), writes_start)
        rows = collect(url)
        watch.halt.set()
        workers = [json.loads(p.read_text()) for p in sorted(results_dir.glob("worker-*.json"))]

    report(args, idle, windows, writes, events_seconds, rows, workers, watch)


def collect(database_url: str) -> dict[str, Any]:
    """What the runs left in the database: timings, event-log rows, checkpoints."""
    with psycopg.connect(database_url) as conn:
        runs = conn.execute(
            """
            SELECT w.id, w.thread_id, r.run_id,
                   extract(epoch FROM e.received_at),
                   extract(epoch FROM w.requested_at),
                   extract(epoch FROM r.create_timestamp AT TIME ZONE 'UTC'),
                   r.start_time,
                   extract(epoch FROM a.started_at),
                   r.end_time,
                   w.status
            FROM orchestrator.workflow_runs w
            JOIN orchestrator.event_envelopes e ON e.id = w.envelope_ids[1]
            JOIN orchestrator.workflow_run_attempts a
                 ON a.workflow_run_id = w.id AND a.kind = 'start'
            JOIN dagster.runs r ON r.run_id = a.dagster_run_id
            ORDER BY w.id
            """
        ).fetchall()
        run_ids = [row[2] for row in runs]
        events = conn.execute(
            "SELECT run_id, coalesce(dagster_event_type, '(log message)'),"
            " extract(epoch FROM timestamp AT TIME ZONE 'UTC'), length(event),"
            " CASE WHEN dagster_event_type = 'ENGINE_EVENT' THEN event END"
            " FROM dagster.event_logs WHERE run_id = ANY(%s) ORDER BY id",
            (run_ids,),
        ).fetchall()
        checkpoints = conn.execute(
            "SELECT thread_id, (metadata->>'step')::int, checkpoint->>'ts'"
            " FROM langgraph.checkpoints WHERE thread_id = ANY(%s)",
            ([row[1] for row in runs],),
        ).fetchall()
        counts = {}
        for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
            counts[table] = conn.execute(
                f"SELECT thread_id, count(*), coalesce(sum(pg_column_size(t)), 0)"
                f" FROM langgraph.{table} t WHERE thread_id = ANY(%s) GROUP BY thread_id",
                ([row[1] for row in runs],),
            ).fetchall()
        tags = conn.execute(
            "SELECT run_id, count(*) FROM dagster.run_tags WHERE run_id = ANY(%s) GROUP BY 1",
            (run_ids,),
        ).fetchall()
    return {
        "runs": runs,
        "events": events,
        "checkpoints": checkpoints,
        "counts": counts,
        "tags": dict(tags),
    }


STAGES = (
    ("envelope stored → sensor dispatched it", "received", "dispatched"),
    ("dispatched → Dagster run created", "dispatched", "created"),
    ("run created → dequeued, launch begins", "created", "starting"),
    ("launch → worker up (spawn, unpickle, instance)", "starting", "worker_up"),
    ("worker up → run started (code location import)", "worker_up", "run_start"),
    ("run started → step started (resources)", "run_start", "step_start"),
    ("step started → attempt begun (lock, state)", "step_start", "attempt"),
    ("attempt begun → first node done", "attempt", "first_node"),
)
TOTALS = (
    ("envelope stored → run started", "received", "run_start"),
    ("envelope stored → attempt begun (1st step starts)", "received", "attempt"),
    ("envelope stored → first node done", "received", "first_node"),
    ("run started → run ended", "run_start", "run_end"),
)


def timelines(rows: dict[str, Any]) -> tuple[list[dict[str, float]], dict[int, str]]:
    first: dict[tuple[str, str], float] = {}
    pid_run: dict[int, str] = {}
    for run_id, kind, ts, _, body in rows["events"]:
        first.setdefault((run_id, kind), float(ts))
        if body and "Started process for run" in body:
            first.setdefault((run_id, "worker_up"), float(ts))
            match = re.search(r"pid: (\d+)", body)
            if match:
                pid_run[int(match[1])] = run_id
    step_one: dict[str, float] = {}
    for thread_id, step, ts in rows["checkpoints"]:
        if step == 1:
            step_one[thread_id] = _iso_epoch(ts)
    out = []
    for _, thread_id, run_id, received, dispatched, created, start, attempt, end, _ in rows["runs"]:
        out.append(
            {
                "received": float(received),
                "dispatched": float(dispatched),
                "created": float(created),
                "starting": first.get((run_id, "PIPELINE_STARTING"), float("nan")),
                "worker_up": first.get((run_id, "worker_up"), float("nan")),
                "run_start": float(start),
                "step_start": first.get((run_id, "STEP_START"), float("nan")),
                "attempt": float(attempt),
                "first_node": step_one.get(thread_id, float("nan")),
                "run_end": float(end),
            }
        )
    return out, pid_run


def _iso_epoch(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text).timestamp()


def report(
    args: argparse.Namespace,
    idle: Window,
    windows: list[Window],
    writes: dict[str, int],
    events_seconds: float,
    rows: dict[str, Any],
    workers: list[dict[str, Any]],
    watch: ServerWatch,
) -> None:
    runs = len(rows["runs"])
    failed = sum(row[-1] != "succeeded" for row in rows["runs"])
    print(f"\n== {runs} runs ({failed} not succeeded), one event at a time on an idle stack")

    lines, pid_run = timelines(rows)
    print("\n-- latency, seconds                                   p50      p95")
    for label, start, end in (*STAGES, ("", "", ""), *TOTALS):
        if not label:
            print()
            continue
        values = [line[end] - line[start] for line in lines]
        values = [v for v in values if v == v]  # drop NaN
        print(f"   {label:50s} {p50_p95(values)}")
    overlaps = [watch.steady(w.start, w.end)[1] for w in windows]
    if len(overlaps) == len(lines) and any(overlaps):
        calm = [line for line, overlap in zip(lines, overlaps, strict=True) if not overlap]
        values = [line["first_node"] - line["received"] for line in calm]
        values = [v for v in values if v == v]
        print(
            f"   {'the same, events with no code server restart':50s} {p50_p95(values)}"
            f"  ({len(values)} of {len(lines)})"
        )

    print("\n-- CPU seconds per event, per process (idle rate removed; mean over events)")
    ours = [w for w in workers if w["pid"] in pid_run]
    others = [w for w in workers if w["pid"] not in pid_run]
    for w in others:
        print(
            f"   (another run's process, left out: pid {w['pid']}, {w['self_cpu']:.2f} s;"
            " the approval deadlines schedule's run is a worker and a step process)"
        )
    worker_cpu = [w["self_cpu"] + w["children_cpu"] for w in ours]
    busy = [(w["born"], w["exited"]) for w in others]

    def disturbed(window: Window) -> bool:
        return watch.steady(window.start, window.end)[1] or any(
            born < window.end and exited > window.start for born, exited in busy
        )

    if disturbed(idle):
        print("   (the idle window saw a code server restart or another run: idle rates are high)")
    per_event: dict[str, list[float]] = defaultdict(list)
    calm = [w for w in windows if not disturbed(w)] or windows
    for window in calm:
        for name, value in idle.cpu.items():
            rate = value / idle.seconds
            per_event[name].append(window.cpu.get(name, 0.0) - rate * window.seconds)
    idle_servers, _ = watch.steady(idle.start, idle.end)
    server_rate = idle_servers / idle.seconds
    clean = [watch.steady(w.start, w.end)[0] - server_rate * w.seconds for w in calm]

    def mean(values: Sequence[float]) -> float:
        return statistics.mean(values) if values else float("nan")

    order = [
        ("run worker: own CPU at exit", mean([w["self_cpu"] for w in ours])),
        (
            "run worker's children (compute-log tail -F + watcher)",
            mean([w["children_cpu"] for w in ours]),
        ),
        ("daemon's code server (sensor tick, StartRun)", mean(clean)),
        ("daemon process (sensor loop, run queue, launch)", mean(per_event["daemon process"])),
        ("postgres (all backends)", mean(per_event["postgres"])),
        ("ingest API (the webhook)", mean(per_event["api"])),
        ("dagster webserver + its code server", mean(per_event["dagster-webserver"])),
        ("vendor sandbox (stands in for the vendors)", mean(per_event.get("sandbox", []))),
    ]
    for label, value in order:
        print(f"   {value:6.2f}  {label}")
    total = sum(value for _, value in order[:-1])
    print(f"   {total:6.2f}  per event in all, sandbox left out")
    print(
        f"          (over {len(calm)} of {len(windows)} event windows: those free of a code"
        " server restart and of other runs)"
    )
    restarts = watch.restarts()
    minutes = (time.time() - watch.started_at) / 60
    cost = f"{mean(restarts):.2f} s CPU in its first {watch.YOUNG:.0f} s" if restarts else "-"
    print(
        f"   daemon code servers: {len(watch.born)} in {minutes:.1f} min"
        f" ({(len(watch.born) - 1) / minutes:.2f} restarts/min); a restart costs {cost}"
    )
    idle_total = sum(v for k, v in idle.cpu.items() if k != "daemon process") / idle.seconds
    print(
        f"   idle stack: {idle_total:.3f} CPU s per s (restarts included);"
        f" {idle.writes.get('(connections opened)', 0) / idle.seconds:.1f} Postgres connections"
        f" opened and {idle.writes.get('(transactions committed)', 0) / idle.seconds:.0f}"
        " transactions per s"
    )
    if worker_cpu:
        print(
            f"   run worker in all: p50 {statistics.median(worker_cpu):.2f} s,"
            f" min {min(worker_cpu):.2f}, max {max(worker_cpu):.2f};"
            f" interpreter start {mean([w['startup_cpu'] for w in ours]):.3f} s"
        )

    sampled = [w for w in ours if w["samples"]]
    if sampled:
        print_worker_split(sampled)

    print("\n-- Dagster event-log rows per run, by type")
    by_type: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    for _, kind, _, size, _ in rows["events"]:
        by_type[kind] += 1
        sizes[kind] += size or 0
    for kind, count in by_type.most_common():
        print(f"   {count / runs:5.1f}  {kind:32s} {sizes[kind] / count:6.0f} bytes each")
    print(
        f"   {sum(by_type.values()) / runs:5.1f}  in all;"
        f" {sum(rows['tags'].values()) / runs:.1f} run_tags rows per run"
    )

    print("\n-- LangGraph checkpoint rows per run (thread)")
    for table, per_thread in rows["counts"].items():
        count = sum(r[1] for r in per_thread) / max(1, len(per_thread))
        size = sum(r[2] for r in per_thread) / max(1, len(per_thread))
        print(f"   {count:5.1f}  langgraph.{table:18s} {size / 1024:6.1f} KiB (row sizes)")

    print(
        "\n-- row writes per run (pg_stat_user_tables: inserts + updates + deletes, idle removed)"
    )
    rate = {k: v / idle.seconds for k, v in idle.writes.items()}
    per_run = {k: (v - rate.get(k, 0.0) * events_seconds) / runs for k, v in writes.items()}
    shown = sorted(per_run.items(), key=lambda item: -item[1])
    for name, value in shown[:16]:
        if value >= 0.5:
            print(f"   {value:6.1f}  {name}")
    for schema in ("dagster", "langgraph", "orchestrator"):
        value = sum(v for k, v in per_run.items() if k.startswith(schema + "."))
        print(f"   {value:6.1f}  schema {schema} in all")


def print_worker_split(workers: list[dict[str, Any]]) -> None:
    count = len(workers)
    phases: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    packages: dict[str, Counter[str]] = defaultdict(Counter)
    hot: Counter[str] = Counter()
    startup = statistics.mean(w["startup_cpu"] for w in workers)
    unsampled = statistics.mean(
        w["self_cpu"] - w["startup_cpu"] - w["sampled_cpu"] for w in workers
    )
    for w in workers:
        for key, value in w["weights"].items():
            phase, package, compiling = key.split("|")
            share = value / count
            phases[phase][0] += share
            if package:
                phases[phase][1] += share
                packages[phase][package] += share
            if compiling == "1":
                phases[phase][2] += share
        for where, value in w["hot"]:
            hot[where] += value / count
    print(f"\n-- run worker CPU by phase (stack sampler, mean of {count} workers; s)")
    print("      all  import  compile  phase")
    print(f"   {startup:6.2f}                  interpreter start (before site-packages)")
    order = sorted(phases.items(), key=lambda item: -item[1][0])
    for phase, (total, imported, compiled) in order:
        print(f"   {total:6.2f}  {imported:6.2f}  {compiled:6.2f}   {phase}")
        top = ", ".join(f"{name} {value:.2f}" for name, value in packages[phase].most_common(6))
        if top:
            print(f"                             imports: {top}")
    print(f"   {unsampled:6.2f}                  not sampled (last interval, exit handlers)")
    all_import = sum(v[1] for v in phases.values())
    all_compile = sum(v[2] for v in phases.values())
    print(f"   imports in all {all_import:.2f} s, of which compiling sources {all_compile:.2f} s")
    print(
        "   (import: the sample fell inside a module import; compile: inside compiling a .py that"
        " has no .pyc,\n    an upper bound: the sample after a long compile() takes the whole"
        " interval before it)"
    )
    print("\n   hottest innermost functions")
    for where, value in hot.most_common(15):
        print(f"   {value:6.3f}  {where[:110]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("imports", "stack", "both"), default="both")
    parser.add_argument("--events", type=int, default=10)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--gap-min", type=float, default=2.0, help="idle seconds before an event")
    parser.add_argument("--gap-max", type=float, default=6.0)
    parser.add_argument("--settle", type=float, default=1.5, help="seconds after a run ends")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each import measure")
    parser.add_argument("--no-sampler", action="store_true", help="worker rusage only")
    parser.add_argument(
        "--instance-extra",
        metavar="YAML",
        help="a YAML file whose top-level keys replace those of the product's dagster.yaml",
    )
    parser.add_argument(
        "--sitecustomize-extra",
        metavar="PY",
        help="Python code appended to the stack's sitecustomize (experiments only)",
    )
    args = parser.parse_args()
    if args.part in ("imports", "both"):
        measure_imports(args.repeats)
    if args.part in ("stack", "both"):
        measure_stack(args)


if __name__ == "__main__":
    main()
