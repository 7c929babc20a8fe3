"""Hostile submissions gain nothing, always get graded, and leave the machine clean, under both sandboxes.

The sandbox holds only the student's package, numpy and the object server: probes, checks, challenges and the
reference stay in this process, and the student's code can only answer requests about its own objects (docs/
architecture.md, "The trust boundary"). Every package of tests/fixtures/hostile_packages is the reference with
ONE shared bug (`zero_grad` clears nothing) plus ONE hostile behaviour, fired where the student's code is called
(import, zero_grad) in every test process that gets there, choosing tests only by what its own process observes
(see build.py). Each is graded with the capstone suite by grader.grading.grade.grade() under docker and under
bubblewrap, with a fixed seed, and for each one:
  (a) grade() returns a report (never an exception: a submission must never pass for an infrastructure failure)
      whose score is EXACTLY its yardstick's: `bug_only` (the bug alone, graded once per sandbox kind), or, for
      the upload that is only tinytorch/__init__.py (stack_walker), `empty`, an honest upload of an empty
      tinytorch/__init__.py. Every test its yardstick passes, it passes too; no test its yardstick fails, it
      passes. The only exceptions are what a case costs on purpose, named in EXPECT with the diagnostic they
      must get: the P7 cases' slow steps or working memory, hidden behind a fat import or in other processes
      (an orphaned grandchild, a child the kernel reaps by itself, several processes at once), are measured, so
      the efficiency test fails, with a figure of at least what was spent; a keeper killed or stopped in a P7
      test takes the test with it, unmeasured;
  (b) the unmodified reference, graded right after in the same kind of sandbox, gets the full score with the
      same per-test outcomes as a control grading at the start: the next submission is graded identically;
  (c) after every sandbox run nothing of it is left: no process in its cgroup, no container, no mount, no
      cgroup, no run folder; at the end, no process of uid 65534 from this session's runs (found by cgroup:
      other sessions on this machine may run sandboxes of their own), no container, mount or cgroup of this
      session, nothing left in the temp dir grade() used, nothing new of uid 65534 in /tmp or /dev/shm, no
      System V IPC object of uid 65534 in the host's namespace;
  (d) a secret in this process's environment appears in no report and no sandbox output (and, for the package
      that dumps every environment it can read, the dump itself does reach the report: the channel is open,
      the secret absent);
  (e) the network package leaves no Redis marker key, no connection reaches a canary listener on the host, and
      the report shows only failed attempts;
  (f) every grading ends within GRADING_BOUND_S and every captured output within its cap (a flood included);
      one answer line the size of a large array's base64 costs the grader less than HOST_MEMORY_BOUND.
Each case also proves that its behaviour fired and what it found, from the lines it prints into the report's
captured output or from the outcomes it must cause (CASE_CHECKS): a check that could pass without the behaviour
having run would prove nothing. In particular: a walk of every frame, thread, object and module of the student's
process finds nothing of the grader but the object server (and its own start command), and forging through
that server gains nothing over an empty upload; the grader's code and the reference are nowhere to import or
read, and a copy of the checks carried in the upload changes nothing; the supervisor's and the keeper's fds,
memory, stdio and environment are out of reach (open, ptrace, process_vm_readv, pidfd_getfd), and pid 1 ignores
every signal; what one test leaves anywhere (files in every writable place, hidden, in a mode-000 directory or
3,000 directories deep, the writable places themselves made mode 000, System V shared memory, semaphores and
message queues of mode 000, a POSIX message queue, a daemon's socket, canaries in its output) is never found by a
later test, and every test had left all of it; forged, malformed, deeply nested, huge and non-UTF-8 answers
written behind the object server's back, and requests read behind its back, fail only the tests that did it,
and forged answers still in flight when a test ends never reach the next one; a killed or stopped keeper costs
its test and never the sandbox (the keeper is killed where the host waits for an answer: killed in the middle
of a frame, it is a known fault of the boundary, not covered here).

Known holes of the boundary are cases marked `known_bug` in EXPECT: their checks assert what must hold, and
they run as strict xfails (spelled out, so that only (a) and the case's own checks can be the expected failure),
so the day the hole is closed they fail until the mark is removed. Every hostile ARCHIVE of tests/fixtures/
hostile is also run through `grader grade` and must be refused with exit 2 and the reason, naming the member,
on stderr.

Gradings run in WORKERS threads per sandbox kind, slowest cases first, so the whole module takes about four
minutes on a 2-core machine; every check that looks for leftovers is keyed by the run's own id, so the other
threads' runs never count against it. Nothing is skipped: when docker or bubblewrap is not ready, the session
runs `bash sandbox/setup.sh` and fails with its output if that does not help.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import multiprocessing
import os
import re
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.grading.grade import GradeOptions, grade
from grader.grading.plan import make_plan
from grader.grading.report import OUTPUT_LIMIT, public_report
from sandbox import Limits, RunResult, RunSpec, Sandbox, get_sandbox
from sandbox.base import SANDBOX_UID, MiB
from sandbox.hostfs import work_root
from tests.fixtures.hostile.cases import CASES as ARCHIVE_CASES
from tests.fixtures.hostile_packages import build

REPO = Path(__file__).resolve().parents[2]
KINDS = ("docker", "bwrap")
WORKERS = 2  # gradings at a time per sandbox kind
SEED = 20251201
TIMEOUT_S = 10.0  # the cap on every test's limit: a hostile test that never returns costs this much
LIMITS = Limits(memory_bytes=512 * MiB)
OPTIONS = GradeOptions(suites=["capstone"], seed=SEED, timeout_per_test_s=TIMEOUT_S, limits=LIMITS)
GRADING_BOUND_S = 150.0  # any one grading
HOST_MEMORY_BOUND = 1 << 30  # how much a grading may grow this process's peak memory (answers are bounded data)
SECRET_NAME = "GRADER_SECRET_TOKEN"
SECRET = f"gst-{secrets.token_hex(16)}"
REDIS = ("127.0.0.1", 6379)
RUN_PREFIX = f"tinytorch-sbx-{os.getpid()}-"  # cgroups and containers of this process's runs (hostfs.new_run_id)
HOSTILE = [case.name for case in build.CASES if case.name != build.BUG_ONLY]
PLAN = make_plan(OPTIONS.suites, SEED, TIMEOUT_S)
CHALLENGES = {p.name: p.challenge for p in PLAN.tests}
P7_STEPS = int(CHALLENGES["test_training_performance"]["steps"])
assert P7_STEPS <= build.MAX_P7_STEPS, "the front_loaded case assumes no challenge asks for more steps"
SGD_TESTS = ("test_xor_convergence", "test_binary_classification_convergence",
             "test_gradient_accumulation_correctness")  # what build.SGD picks in the capstone suite
XOR = "test_xor_convergence"
P7_MEMORY, P7_TIME = "test_memory_efficiency", "test_training_performance"
# Archives intake refuses at its default limits (the CLI has no way to lower them): the cases that need a
# lowered limit to be refused are accepted as ordinary packages by `grader grade`, by design.
ARCHIVES = [f"{c.id}-{c.filename}" for c in ARCHIVE_CASES if not c.limits]
BOMBS = {"zip_bomb-10GiB.zip": "tinytorch/weights.bin", "tar_bomb-10GiB.tar.gz": "tinytorch/weights.bin",
         "many_members-10000.zip": "more than"}


# ------------------------------------------------------------------------------------------ expectations
@dataclass(frozen=True)
class Expectation:
    """What a case must score, beyond its yardstick's outcomes."""

    baseline: str = build.BUG_ONLY
    # test name -> a pattern its diagnostic must match: tests the yardstick passes that this case must fail, on
    # purpose (what its behaviour costs it); the expected score is the yardstick's minus their points
    newly_failed: dict[str, str] = field(default_factory=dict)
    known_bug: str | None = None  # a hole of the boundary, reported: the case runs as a strict xfail
    timeout_s: float = TIMEOUT_S  # the cap on its tests' limits (the P7 time cases' long runs take seconds)
    isolated: bool = False  # graded in a process of its own, whose peak memory is the grading's alone


OFFLOAD = {P7_TIME: "s of CPU"}  # the long run's slow steps are measured wherever they run
P7_TIME_CAP_S = 60.0  # the P7 time cases fire nowhere else: a long limit costs nothing, and load cannot time them out
# A keeper killed, or stopped (and then given up by the supervisor), takes its test's process with it: the object
# server reads its requests from the keeper.
LOST = "the test's process ended"
EXPECT: dict[str, Expectation] = {
    "stack_walker": Expectation(baseline=build.EMPTY),
    "fat_import": Expectation(newly_failed=OFFLOAD, timeout_s=P7_TIME_CAP_S),
    "offload_grandchild": Expectation(newly_failed=OFFLOAD, timeout_s=P7_TIME_CAP_S),
    "offload_autoreaped": Expectation(newly_failed=OFFLOAD, timeout_s=P7_TIME_CAP_S),
    # P7 measures a training step's marginal cost (3k steps minus k, docs/architecture.md): a package whose real
    # steps are fast passes, however slow its first steps were made. Steps it skipped would not pass (the long
    # run's losses must match the graded run's and keep moving), but these steps really train.
    "front_loaded": Expectation(timeout_s=P7_TIME_CAP_S),
    "memory_grandchild": Expectation(newly_failed={P7_MEMORY: "peaked at"}),
    "memory_split": Expectation(newly_failed={P7_MEMORY: "peaked at"}),
    "answer_bloat": Expectation(isolated=True),
    "kill_keeper": Expectation(newly_failed={P7_MEMORY: LOST, P7_TIME: LOST}),
    "stop_keeper": Expectation(newly_failed={P7_MEMORY: LOST}),
}


# ------------------------------------------------------------------------------------------ machine state
def _read(path: str | Path) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def _docker_names(name_filter: str) -> list[str]:
    if shutil.which("docker") is None:
        return []
    proc = subprocess.run(["docker", "ps", "-a", "--filter", f"name={name_filter}", "--format", "{{.Names}}"],
                          capture_output=True, text=True, timeout=60)
    return proc.stdout.split()


def _cgroup_dirs(name_glob: str) -> list[str]:
    """Cgroup folders named like `name_glob`, in every hierarchy (os.walk: cgroups of concurrent runs come and
    go while we look, and a folder removed under it is skipped, never an error)."""
    pattern = re.compile(fnmatch.translate(name_glob))
    return sorted(os.path.join(folder, name) for folder, names, _ in os.walk("/sys/fs/cgroup")
                  for name in names if pattern.match(name))


def leftovers_of_run(run_id: str, kind: str) -> list[str]:
    """What one finished sandbox run left behind (keyed by its id, so concurrent runs never count)."""
    tag = f"tinytorch-sbx-{run_id}"
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and tag in _read(f"/proc/{entry}/cgroup"):
            found.append(f"process {entry} ({_read(f'/proc/{entry}/cmdline').replace(chr(0), ' ')[:100]})")
    if kind == "docker":
        found += [f"container {name}" for name in _docker_names(f"^/{tag}$")]
    found += [f"mount {line}" for line in _read("/proc/mounts").splitlines() if f"run-{run_id}" in line]
    found += [f"cgroup {path}" for path in _cgroup_dirs(tag)]
    if (work_root() / f"run-{run_id}").exists():
        found.append(f"run folder {work_root() / f'run-{run_id}'}")
    return found


def session_leftovers() -> list[str]:
    """Everything of this session's runs: processes of the sandbox uid, containers, mounts, cgroups, run folders.

    `ps -u 65534` is filtered by cgroup: other test sessions on this machine run sandboxes (and plain uid-65534
    processes) of their own. The filter loses nothing of ours: every process a run starts, however it forks,
    setsids or daemonizes, stays in that run's cgroup (moving out needs write access to cgroupfs, which the
    sandbox's uid does not have), and the cgroup's name carries this process's pid."""
    found = []
    ps = subprocess.run(["ps", "-u", str(SANDBOX_UID), "-o", "pid="], capture_output=True, text=True)
    for pid in ps.stdout.split():
        if RUN_PREFIX in _read(f"/proc/{pid}/cgroup"):
            found.append(f"uid {SANDBOX_UID} process {pid}: {_read(f'/proc/{pid}/cmdline').replace(chr(0), ' ')[:100]}")
    found += [f"container {name}" for name in _docker_names(f"^/{RUN_PREFIX}")]
    found += [f"mount {line}" for line in _read("/proc/mounts").splitlines()
              if f"run-{os.getpid()}-" in line or RUN_PREFIX in line]
    found += [f"cgroup {path}" for path in _cgroup_dirs(f"{RUN_PREFIX}*")]
    if work_root().exists():
        found += [f"run folder {p}" for p in work_root().glob(f"run-{os.getpid()}-*")]
    return found


def sandbox_owned(folder: str) -> set[str]:
    """Entries of a host folder owned by the sandbox's uid: only a sandbox escape could create them."""
    owned = set()
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            with contextlib.suppress(OSError):
                if entry.stat(follow_symlinks=False).st_uid == SANDBOX_UID:
                    owned.add(entry.path)
    return owned


def resident_bytes() -> int:
    return int(_read("/proc/self/statm").split()[1]) * os.sysconf("SC_PAGE_SIZE")


class MemoryWatch:
    """The most this process's resident memory grew above its size at the start, sampled every 20 ms (a
    grading's answers are decoded in this process; other threads' gradings add their own, small, share). A peak
    while one call holds the GIL goes unseen: grade_isolated measures those."""

    def __init__(self) -> None:
        self.start = self.peak = resident_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, resident_bytes())

    def growth(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak, resident_bytes()) - self.start


# ------------------------------------------------------------------------------------------ recording sandbox
@dataclass
class RunRecord:
    run_id: str | None
    exit_code: int | None
    timed_out: bool
    stdout_bytes: int
    stderr_bytes: int
    output_cap: int
    secret_seen: bool
    leftovers: list[str]


class RecordingSandbox:
    """A Sandbox that, after every run, records its raw facts and what it left behind."""

    def __init__(self, inner: Sandbox) -> None:
        self.inner, self.name = inner, inner.name
        self.records: list[RunRecord] = []

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()

    def run(self, spec: RunSpec) -> RunResult:
        result = self.inner.run(spec)
        run_id = result.runtime.get("run_id")
        self.records.append(RunRecord(
            run_id, result.exit_code, result.timed_out, len(result.stdout), len(result.stderr),
            spec.limits.output_bytes, SECRET.encode() in result.stdout + result.stderr,
            leftovers_of_run(run_id, self.name) if run_id else ["the run reported no run_id"]))
        return result


# ------------------------------------------------------------------------------------------ gradings
@dataclass
class Graded:
    report: dict[str, Any]
    seconds: float
    runs: list[RunRecord]
    memory_growth: int  # how much this process's resident memory grew during the grading (MemoryWatch)

    @property
    def outcomes(self) -> dict[str, str]:
        return {t["name"]: t["outcome"] for t in self.report["tests"]}

    @property
    def tests(self) -> dict[str, dict[str, Any]]:
        return {t["name"]: t for t in self.report["tests"]}

    @property
    def text(self) -> str:
        return json.dumps(self.report)

    def lines(self, tag: str) -> dict[str, list[Any]]:
        """test name -> the JSON of each `TAG {...}` line a behaviour printed into that test's captured output."""
        found: dict[str, list[Any]] = {}
        for test in self.report["tests"]:
            for line in test["output"].splitlines():
                if line.startswith(f"{tag} {{"):
                    with contextlib.suppress(ValueError):
                        found.setdefault(test["name"], []).append(json.loads(line[len(tag) + 1:]))
        return found

    def fired_in(self, behaviour: str) -> set[str]:
        return {t["name"] for t in self.report["tests"] if f"HOSTILE {behaviour} fired" in t["output"]}


@dataclass
class CaseResult:
    name: str
    hostile: Graded | None  # None when grade() raised (hostile_error)
    hostile_error: str | None = None
    reference_after: Graded | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def grade_package(root: Path, kind: str, timeout_s: float = TIMEOUT_S) -> Graded:
    sandbox = RecordingSandbox(get_sandbox(kind))
    start, memory = time.monotonic(), MemoryWatch()
    try:
        report = grade(root, sandbox, replace(OPTIONS, timeout_per_test_s=timeout_s))  # type: ignore[arg-type]
    finally:
        growth = memory.growth()
    return Graded(public_report(report), time.monotonic() - start, sandbox.records, growth)


@dataclass
class Canary:
    """A TCP listener on every host address (and on Redis's port when no Redis runs here): any connection the
    sandbox makes to the host is recorded."""

    port: int
    peers: list[str] = field(default_factory=list)

    def serve(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, peer = listener.accept()
            except OSError:
                return
            self.peers.append(f"{peer} -> {listener.getsockname()}")
            conn.close()


def _listen(port: int) -> socket.socket:
    listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # IPv4 and IPv6, every address
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("::", port))
    listener.listen(16)
    return listener


def redis_command(*words: str) -> bytes | None:
    """One RESP command to the host's Redis; None if no Redis answers there."""
    command = f"*{len(words)}\r\n".encode() + b"".join(f"${len(w)}\r\n{w}\r\n".encode() for w in words)
    try:
        with socket.create_connection(REDIS, timeout=2) as conn:
            conn.sendall(command)
            return conn.recv(256)
    except OSError:
        return None


def host_addresses() -> list[str]:
    """Every address this host might be reached at from a sandbox, if its network were not cut."""
    addresses = {"127.0.0.1", "::1", "172.17.0.1", "169.254.169.254", "10.0.2.2"}
    ip = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True, check=False) \
        if shutil.which("ip") else None
    if ip is not None:
        addresses |= set(re.findall(r"inet6? ([0-9a-f.:]+)/", ip.stdout))
    with contextlib.suppress(OSError):
        addresses |= {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)}
    for line in _read("/proc/net/route").splitlines()[1:]:  # the default gateway
        fields = line.split()
        if len(fields) > 2 and fields[1] == "00000000":
            addresses.add(socket.inet_ntoa(int(fields[2], 16).to_bytes(4, "little")))
    return sorted(a for a in addresses if not a.startswith("fe80"))  # link-local v6 needs a scope id


def host_sysv_ipc() -> set[str]:
    """System V IPC objects of the sandbox's uid in the host's IPC namespace: none may ever appear there."""
    found = set()
    for table in ("/proc/sysvipc/shm", "/proc/sysvipc/sem", "/proc/sysvipc/msg"):
        for row in _read(table).splitlines()[1:]:
            fields = row.split()
            if str(SANDBOX_UID) in fields[4:8]:
                found.add(f"{table}: {row.strip()[:80]}")
    return found


@dataclass
class Session:
    packages: dict[str, Path]
    reference: Path
    canary: Canary
    redis_key: str
    redis_here: bool
    private_tmp: Path
    system_tmp: str
    tmp_before: set[str]
    shm_before: set[str]
    ipc_before: set[str]
    control: dict[str, Future[Graded]]
    baselines: dict[tuple[str, str], Future[Graded]]  # (yardstick, kind)
    cases: dict[tuple[str, str], Future[CaseResult]]


def _selected_cases(request: pytest.FixtureRequest) -> list[tuple[str, str]]:
    """The (case, kind) pairs the selected tests ask for (all of them when the end-state test is selected):
    `-k` picks a few without paying for every grading."""
    items = [item for item in request.session.items if item.module is request.module]
    if any(item.originalname == "test_machine_clean_after_everything" for item in items):
        return [(name, kind) for name in HOSTILE for kind in KINDS]
    params = [getattr(item, "callspec", None) for item in items]
    return [(p.params["case"], p.params["kind"]) for p in params if p is not None and "case" in p.params]


def _slowest_first(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The cases that wait out limits go first, so the pools end together."""
    slow = ("stop_keeper", "infinite_loop", "fat_import", "fork_bomb", "sigterm_sleeper", "output_flood",
            "answer_bloat", "offload_grandchild", "offload_autoreaped", "front_loaded")
    return sorted(pairs, key=lambda pair: slow.index(pair[0]) if pair[0] in slow else len(slow))


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
            sandbox_ready: None) -> Iterator[Session]:
    system_tmp = tempfile.gettempdir()
    tmp_before, shm_before, ipc_before = sandbox_owned(system_tmp), sandbox_owned("/dev/shm"), host_sysv_ipc()
    dest = tmp_path_factory.mktemp("hostile-packages")
    redis_key = f"tinytorch-hostile-{secrets.token_hex(8)}"
    redis_here = redis_command("PING") is not None
    canary = Canary(0)
    listeners = [_listen(0)]
    canary.port = listeners[0].getsockname()[1]
    if not redis_here:
        with contextlib.suppress(OSError):
            listeners.append(_listen(REDIS[1]))  # no Redis: the canary stands in for it
    for listener in listeners:
        threading.Thread(target=canary.serve, args=(listener,), daemon=True).start()
    params = {"hosts": host_addresses(), "ports": [REDIS[1], 5432, canary.port, 2375, 22, 80],
              "redis_key": redis_key, "p7_steps": P7_STEPS}
    packages = build.build_all(dest, params)
    reference = build.build_reference(dest)
    # Everything grade() and the sandboxes put in the temp dir goes to a private one, checked empty at the end.
    private_tmp = Path(tempfile.mkdtemp(prefix="hostile-tmp-"))
    private_tmp.chmod(0o755)  # bubblewrap, as uid 65534, opens its mounts through the run folders in here
    saved_tempdir, tempfile.tempdir = tempfile.tempdir, str(private_tmp)
    os.environ[SECRET_NAME] = SECRET
    pools = {kind: ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix=f"grade-{kind}") for kind in KINDS}
    try:
        control = {kind: pools[kind].submit(grade_package, reference, kind) for kind in KINDS}
        baselines = {(name, kind): pools[kind].submit(grade_package, packages[name], kind)
                     for name in (build.BUG_ONLY, build.EMPTY) for kind in KINDS}
        cases = {}
        for name, kind in _slowest_first(_selected_cases(request)):
            cases[(name, kind)] = pools[kind].submit(_grade_case, name, packages[name], reference, kind, redis_key,
                                                     canary)
        yield Session(packages, reference, canary, redis_key, redis_here, private_tmp, system_tmp, tmp_before,
                      shm_before, ipc_before, control, baselines, cases)
    finally:
        for pool in pools.values():
            pool.shutdown(wait=True, cancel_futures=True)
        for listener in listeners:
            listener.close()
        os.environ.pop(SECRET_NAME, None)
        tempfile.tempdir = saved_tempdir
        shutil.rmtree(private_tmp, ignore_errors=True)
        redis_command("DEL", redis_key)


def grade_isolated(root: Path, kind: str, timeout_s: float) -> Graded:
    """grade_package in a fresh process of its own (spawned: nothing of ours is copied), so that its peak memory
    (ru_maxrss) is that grading's alone: a sampling thread cannot see a peak while one call holds the GIL."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_grade_in_child, root, kind, timeout_s, tempfile.gettempdir()).result(timeout=900)


def _grade_in_child(root: Path, kind: str, timeout_s: float, tempdir: str) -> Graded:
    tempfile.tempdir = tempdir
    start = resident_bytes()
    graded = grade_package(root, kind, timeout_s)
    return replace(graded, memory_growth=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - start)


def _grade_case(name: str, root: Path, reference: Path, kind: str, redis_key: str, canary: Canary) -> CaseResult:
    peers_before = len(canary.peers)
    expect = EXPECT.get(name, Expectation())
    try:
        graded = (grade_isolated if expect.isolated else grade_package)(root, kind, expect.timeout_s)
        result = CaseResult(name, graded)
    except Exception as error:  # grade() must return a report whatever the package does
        result = CaseResult(name, None, f"{type(error).__name__}: {error}")
    result.extra = {"redis_marker": redis_command("EXISTS", redis_key), "canary_peers": canary.peers[peers_before:]}
    result.reference_after = grade_package(reference, kind)  # (b): the next submission, right after
    return result


def _wait(future: Future[Any]) -> Any:
    return future.result(timeout=3600)


# ------------------------------------------------------------------------------------------ tests
@pytest.mark.parametrize("kind", KINDS)
def test_reference_and_yardsticks(session: Session, kind: str) -> None:
    """The yardsticks: the reference gets everything; the bug alone fails the tests that call zero_grad on SGD
    (and the pipeline's Adam) and passes the others, P7 included; the empty upload gets nothing."""
    control = _wait(session.control[kind])
    bug, empty = _wait(session.baselines[(build.BUG_ONLY, kind)]), _wait(session.baselines[(build.EMPTY, kind)])
    assert control.report["score"] == control.report["max_score"], control.outcomes
    assert set(control.outcomes.values()) == {"passed"}, control.outcomes
    failing = {n for n, o in bug.outcomes.items() if o != "passed"}
    assert set(SGD_TESTS) <= failing, f"the hostile cases' conditions pick these tests as failed by the bug: {failing}"
    assert {P7_MEMORY, P7_TIME}.isdisjoint(failing), "the P7 cases need the bug alone to pass both P7 tests"
    assert len(failing) < len(bug.outcomes), f"the shared bug must fail some tests, not all: {failing}"
    assert empty.report["score"] == 0 and "passed" not in empty.outcomes.values(), empty.outcomes
    for graded in (control, bug, empty):
        _assert_runs_clean(graded)
        assert SECRET not in graded.text


@pytest.mark.parametrize(("case", "kind"), [pytest.param(n, k, id=f"{n}-{k}") for n in HOSTILE for k in KINDS])
def test_hostile_package_gains_nothing_and_leaves_nothing(session: Session, case: str, kind: str) -> None:
    result: CaseResult = _wait(session.cases[(case, kind)])
    hostile, after = result.hostile, result.reference_after
    control = _wait(session.control[kind])
    assert after is not None
    # (b) first: whatever happened to the hostile grading, the next submission is graded exactly as before
    assert after.report["score"] == after.report["max_score"] == control.report["score"], after.outcomes
    assert after.outcomes == control.outcomes
    _assert_runs_clean(after)
    assert SECRET not in after.text
    assert hostile is not None, f"grading {case} under {kind} raised instead of reporting (a submission must " \
        f"never pass for an infrastructure failure): {result.hostile_error}"
    assert hostile.seconds < GRADING_BOUND_S, f"grading took {hostile.seconds:.0f} s"

    # (c) every sandbox run left nothing behind, and no output beyond its cap came back
    _assert_runs_clean(hostile)

    # (d) no secret anywhere, for every case
    for graded in (hostile, after):
        assert SECRET not in graded.text, f"the secret leaked into the report of {case} under {kind}"
        assert not any(r.secret_seen for r in graded.runs), "the secret reached a sandbox's output"

    # (a) and what the case proves. A known hole must still show here: a strict xfail, spelled out so that
    # only these assertions, never (b) to (d), can be the expected failure.
    known_bug = EXPECT.get(case, Expectation()).known_bug
    try:
        _assert_yardstick(session, result, kind)
        CASE_CHECKS.get(case, _check_fired)(session, result, kind)
    except AssertionError as failure:
        if known_bug is None:
            raise
        pytest.xfail(f"known hole: {known_bug} [{str(failure).splitlines()[0][:300]}]")
    if known_bug is not None:
        pytest.fail(f"{case} under {kind} no longer shows its known hole ({known_bug}): remove its known_bug")


def _assert_yardstick(session: Session, result: CaseResult, kind: str) -> None:
    """(a) Exactly the yardstick's score and outcomes, but for what the case costs on purpose."""
    case, hostile = result.name, _hostile(result)
    expect = EXPECT.get(case, Expectation())
    yardstick = _wait(session.baselines[(expect.baseline, kind)])
    summary = {n: (o, yardstick.outcomes.get(n)) for n, o in hostile.outcomes.items()}
    newly_failed = expect.newly_failed
    assert set(hostile.outcomes) == set(yardstick.outcomes), "every graded test must be reported"
    for name, outcome in hostile.outcomes.items():
        diagnostic = hostile.tests[name]["diagnostic"] or ""
        if name in newly_failed:
            assert outcome != "passed" and re.search(newly_failed[name], diagnostic), \
                f"{case} under {kind}: {name} must fail ({newly_failed[name]!r}): {outcome} {diagnostic!r}"
        elif yardstick.outcomes[name] == "passed":
            assert outcome == "passed", f"{case} under {kind} broke {name}, which the {expect.baseline} " \
                f"package passes: {outcome} {diagnostic[:300]!r}"
        else:
            assert outcome != "passed", f"{case} under {kind} made {name} pass, which the {expect.baseline} " \
                f"package fails: {diagnostic[:300]!r}"
    cost = sum(yardstick.tests[name]["points"] for name in newly_failed)
    assert hostile.report["score"] == yardstick.report["score"] - cost, f"{case} under {kind}: {summary}"


def _assert_runs_clean(graded: Graded) -> None:
    assert graded.runs, "grade() ran no sandbox"
    for record in graded.runs:
        assert not record.leftovers, f"run {record.run_id} left: {record.leftovers}"
        assert record.stdout_bytes <= record.output_cap and record.stderr_bytes <= record.output_cap
    for test in graded.report["tests"]:
        assert len(test["output"]) <= OUTPUT_LIMIT


# ------------------------------------------------------------------------------------------ what each case proves
def _hostile(result: CaseResult) -> Graded:
    assert result.hostile is not None
    return result.hostile


def _check_fired(session: Session, result: CaseResult, kind: str) -> None:
    """The behaviour ran: its marker is in the output of a test it was meant to fire in (the ones its condition
    picks: every test for import, the SGD tests for zero_grad)."""
    behaviour = build.CASES_BY_NAME[result.name].behaviour
    assert _hostile(result).fired_in(behaviour), "the behaviour never fired: the case proves nothing"


def _fired_everywhere(result: CaseResult, behaviour: str) -> None:
    hostile = _hostile(result)
    assert hostile.fired_in(behaviour) == set(hostile.outcomes), \
        f"{behaviour} must fire at import in every test: {sorted(hostile.fired_in(behaviour))}"


def _each_test_reports(result: CaseResult, tag: str, tests: set[str] | None = None) -> dict[str, list[Any]]:
    """The behaviour's `TAG {...}` lines, which every test of `tests` (default: all) must have printed."""
    hostile = _hostile(result)
    reports = hostile.lines(tag)
    expected = tests if tests is not None else set(hostile.outcomes)
    assert expected <= set(reports), f"no {tag} line from {sorted(expected - set(reports))}: the check proves nothing"
    return reports


def _check_walker(session: Session, result: CaseResult, kind: str) -> None:
    """Every frame of every thread, every object the garbage collector knows and every module of the student's
    process: nothing of the grader but the object server (the boundary package mounted at /grader/boundary)."""
    for test, reports in _each_test_reports(result, "WALKER").items():
        for found in reports:
            assert found["server"], f"{test}: the walker did not even find the object server"
            assert not found["foreign_modules"] and not found["frame_files"] and not found["grader_names"], \
                f"{test}: the student's process holds something of the grader: {found}"
            # The supervisor runs as `python -m boundary.supervisor`: its module is __main__.
            assert all(name in ("boundary", "__main__") or name.startswith("boundary.")
                       for name in found["grader_modules"]), found["grader_modules"]
            # What the supervisor read to start this very test (its number and limit) is all it sees of any.
            assert len(found["start_commands"]) <= 1, f"{test}: other tests' commands: {found['start_commands']}"


def _check_import_grader(session: Session, result: CaseResult, kind: str) -> None:
    """The grader, the harness and the reference are nowhere to import or read; the copy of the checks the
    upload carries was imported and patched, which changed nothing."""
    for test, reports in _each_test_reports(result, "IMPORT_GRADER").items():
        facts = reports[0]
        for name, where in facts["imported"].items():
            assert where.endswith("Error") or where.startswith(("/sub/", "/grader/boundary/")), \
                f"{test}: {name} imported from {where}"
        assert facts["imported"]["capstone_tests.checks.capstone"].startswith("/sub/"), facts["imported"]
        assert facts["grader_folder"] == ["boundary"], f"{test}: /grader holds {facts['grader_folder']}"
        assert all(path.startswith("/sub/") for path in facts["on_disk"] if path != "/grader"), facts["on_disk"]
        assert facts["patched"], f"{test}: the carried copy of the checks was not patched: proves nothing"


def _check_p7_time(session: Session, result: CaseResult, kind: str) -> None:
    """The slow steps were measured, wherever they ran: the figure is at least 85% of what they cost (the fat
    import, spent in both runs, neither hides nor adds anything)."""
    test = _hostile(result).tests[P7_TIME]
    assert test["evidence"]["cpu_seconds"] >= 0.85 * build.P7_EXTRA_CPU_S, test["evidence"]


def _check_p7_memory(session: Session, result: CaseResult, kind: str) -> None:
    test = _hostile(result).tests[P7_MEMORY]
    assert test["evidence"]["peak_bytes"] >= build.MEMORY_MIB * MiB, test["evidence"]


# What cache_everywhere must have planted in every test (under both sandboxes), for "found nothing" to mean
# anything: files in every writable place, a mode-000 tree, a tree 3,000 deep, System V objects, a POSIX message
# queue, a daemon.
PLANTED = {"/tmp/tinytorch-cache", "/dev/shm/tinytorch-cache", "/out/tinytorch-cache", "/tmp/.tinytorch-cache",
           "/tmp/tinytorch-cache-locked", "/tmp/tinytorch-cache-deep", "sysv shm", "sysv sem", "sysv msg",
           "posix mq", "daemon"}


def _check_cache(session: Session, result: CaseResult, kind: str) -> None:
    """Every test looked for what the earlier ones left everywhere, and found nothing; every test had left it."""
    reports = _each_test_reports(result, "CACHE")
    found = {test: lines[0]["found"] for test, lines in reports.items() if lines[0]["found"]}
    assert not found, f"a test found what an earlier one left: {found}"
    for test, lines in _each_test_reports(result, "CACHE_PLANTED").items():
        assert set(lines[0]["planted"]) >= PLANTED, f"{test} could not plant {PLANTED - set(lines[0]['planted'])}"


CANARY_LINE = re.compile(r"HOSTILE-CANARY-\d+-([0-9a-f]{32})-END")


def _check_residue(session: Session, result: CaseResult, kind: str) -> None:
    """Every test wrote a canary (a random nonce) into its output; the SGD tests, reading their whole memory (a
    fork of the supervisor), found their own and none of any other test's, nor any test's start command."""
    hostile = _hostile(result)
    printed = {t["name"]: set(CANARY_LINE.findall(t["output"])) for t in hostile.report["tests"]}
    missing = [name for name, nonces in printed.items() if not nonces]
    assert not missing, f"no canary written in {missing}: the check proves nothing"
    for test, lines in _each_test_reports(result, "RESIDUE", set(SGD_TESTS)).items():
        others = set().union(*(nonces for name, nonces in printed.items() if name != test))
        leaked = sorted(set(lines[0]["nonces"]) & others)
        assert lines[0]["own_seen"], f"{test} did not find its own canary in its memory: the scan proves nothing"
        assert not leaked, f"{test} found the canaries of other tests in its memory: {leaked}"
        assert lines[0]["start_commands_of_tests"] == [], f"{test}: {lines[0]}"


def _check_reach(session: Session, result: CaseResult, kind: str) -> None:
    """Nothing of the supervisor (pid 1) or the keeper (our parent) opened, attached or read."""
    for test, lines in _each_test_reports(result, "REACH").items():
        assert lines[0] == {"opened": [], "attached": []}, f"{test}: {lines[0]}"


def _check_stole(session: Session, result: CaseResult, kind: str) -> None:
    """It did read requests behind the object server's back (only its own test's) and forged answers: every
    test it fired in fails, every later one is untouched (checked for every case)."""
    reports = _each_test_reports(result, "STOLE", set(SGD_TESTS))
    assert any(lines[0]["bytes"] > 0 for lines in reports.values()), reports


def _check_decoder_raw(session: Session, result: CaseResult, kind: str) -> None:
    malformed = [n for n, t in _hostile(result).tests.items() if "malformed data" in (t["diagnostic"] or "")]
    assert malformed, "no test was failed for malformed answers: the raw bytes never reached the decoder"


def _check_answer_bloat(session: Session, result: CaseResult, kind: str) -> None:
    """A well-formed answer line the size of a large array's base64 costs the grader bounded memory."""
    hostile = _hostile(result)
    assert "HOSTILE answer_bloat fired" in hostile.tests[XOR]["output"], "the bloat was never sent"
    assert hostile.memory_growth < HOST_MEMORY_BOUND, \
        f"one answer line grew the grader's memory by {hostile.memory_growth >> 20} MiB"


def _check_killed_keeper(session: Session, result: CaseResult, kind: str) -> None:
    """Every test it fired in lost its process with its keeper (the measuring process: no figures either), and
    each time the supervisor carried on: one sandbox for the whole grading. (kill_pid1: pid 1 ignored every
    signal; kill(-1) took the keeper.)"""
    hostile = _hostile(result)
    fired = (*SGD_TESTS, P7_MEMORY, P7_TIME) if result.name == "kill_keeper" else SGD_TESTS
    for name in fired:
        assert re.search(LOST, hostile.tests[name]["diagnostic"] or ""), \
            f"{name}: {hostile.tests[name]['diagnostic']!r}"
    assert hostile.report["sandbox"]["sandbox_runs"] == 1, hostile.report["sandbox"]


def _check_stopped_keeper(session: Session, result: CaseResult, kind: str) -> None:
    """A stopped keeper relays and measures nothing: the supervisor gives it up, the test is lost (unmeasured),
    and the sandbox carries on."""
    _assert_outcome(result, P7_MEMORY, "error")
    assert _hostile(result).report["sandbox"]["sandbox_runs"] == 1, _hostile(result).report["sandbox"]


def _assert_outcome(result: CaseResult, test: str, *outcomes: str) -> None:
    found = _hostile(result).tests[test]
    assert found["outcome"] in outcomes, f"{test}: {found['outcome']} {found['diagnostic']!r}"


def _check_timeout_in_xor(session: Session, result: CaseResult, kind: str) -> None:
    _assert_outcome(result, XOR, "timeout")


def _check_memory_bomb(session: Session, result: CaseResult, kind: str) -> None:
    _assert_outcome(result, XOR, "error", "timeout")


def _check_infinite_loop(session: Session, result: CaseResult, kind: str) -> None:
    """Three timeouts; after the second, the rest of the grading ran on short limits (and passed what the bug
    passes: checked for every case)."""
    hostile = _hostile(result)
    for name in SGD_TESTS:
        _assert_outcome(result, name, "timeout")
    assert f"within {TIMEOUT_S:.1f} s" not in (hostile.tests["test_gradient_accumulation_correctness"]["diagnostic"]
                                               or ""), "the third timeout did not get the short limit"


def _check_flood(session: Session, result: CaseResult, kind: str) -> None:
    """Gigabytes of output: the test timed out, its captured output is flood, capped (checked for every case)."""
    _assert_outcome(result, XOR, "timeout")
    assert "flood flood" in _hostile(result).tests[XOR]["output"], "the flood is not in the captured output"


def _check_exit_early(session: Session, result: CaseResult, kind: str) -> None:
    tests = _hostile(result).tests
    for name in SGD_TESTS:
        assert "exit code 0" in (tests[name]["diagnostic"] or ""), f"{name}: {tests[name]['diagnostic']!r}"


def _check_network(session: Session, result: CaseResult, kind: str) -> None:
    """(e) No marker in Redis, nothing reached the canary, and the report shows only failed attempts."""
    text = _hostile(result).text
    assert result.extra["redis_marker"] in (b":0\r\n", None), f"Redis has the marker key: {result.extra}"
    if session.redis_here:
        assert result.extra["redis_marker"] == b":0\r\n", "Redis stopped answering during the test"
    assert not result.extra["canary_peers"], f"the sandbox reached the host: {result.extra['canary_peers']}"
    # What the package reports on success (its own source, quoted in tracebacks, does not match these).
    succeeded = re.findall(r"CONNECTED (?:[0-9a-f.:]+:\d+ answer=|unix:/)\S*|RESOLVED example\.com [(\[]", text)
    assert not succeeded, succeeded
    # The attempts themselves must be visible, or the absence of a connection would prove nothing.
    assert f"no 127.0.0.1:{REDIS[1]}" in text, "the network probe's report did not reach the report"


def _check_secrets(session: Session, result: CaseResult, kind: str) -> None:
    """(d) The dump of every environment the package could read reached the report; the secret was not in it."""
    text = _hostile(result).text
    assert "OPENBLAS_NUM_THREADS" in text, "the environment dump did not reach the report: the check proves nothing"
    assert SECRET not in text and SECRET_NAME not in text


def _check_import_fired(session: Session, result: CaseResult, kind: str) -> None:
    _fired_everywhere(result, build.CASES_BY_NAME[result.name].behaviour)


CASE_CHECKS: dict[str, Callable[[Session, CaseResult, str], None]] = {
    "stack_walker": _check_walker,
    "import_grader": _check_import_grader,
    "fat_import": _check_p7_time,
    "offload_grandchild": _check_p7_time,
    "offload_autoreaped": _check_p7_time,
    "memory_grandchild": _check_p7_memory,
    "memory_split": _check_p7_memory,
    "cache_everywhere": _check_cache,
    "supervisor_residue": _check_residue,
    "decoder_raw": _check_decoder_raw,
    "answer_bloat": _check_answer_bloat,
    "steal_requests": _check_stole,
    "reach_supervisor": _check_reach,
    "kill_keeper": _check_killed_keeper,
    "stop_keeper": _check_stopped_keeper,
    "kill_pid1": _check_killed_keeper,
    "fork_bomb": _check_timeout_in_xor,
    "memory_bomb": _check_memory_bomb,
    "infinite_loop": _check_infinite_loop,
    "sigterm_sleeper": _check_timeout_in_xor,
    "output_flood": _check_flood,
    "exit_early": _check_exit_early,
    "network": _check_network,
    "steal_secrets": _check_secrets,
    "monkeypatch": _check_import_fired,
}


# ------------------------------------------------------------------------------------------ hostile archives
@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The intake helper's samples, bombs included, written the documented way."""
    out = tmp_path_factory.mktemp("hostile-archives")
    subprocess.run([sys.executable, "-m", "tests.fixtures.hostile.cases", str(out)], cwd=REPO, check=True,
                   capture_output=True, timeout=300)
    return out


@pytest.mark.parametrize("archive", [*ARCHIVES, *BOMBS])
def test_hostile_archive_is_refused_by_the_cli(archives: Path, archive: str) -> None:
    path = archives / archive
    assert path.exists(), f"the generator did not write {archive}"
    start = time.monotonic()
    result = CliRunner().invoke(app, ["grade", str(path), "--json", "--sandbox", "bwrap"])
    seconds = time.monotonic() - start
    assert result.exit_code not in (0, None), f"{archive} was graded, not refused: {result.stdout[:300]}"
    assert result.exit_code == 2, f"exit {result.exit_code}: {result.stderr[-500:]} {result.exception!r}"
    assert result.stdout == "", "a refused upload must print no report"
    assert result.stderr.startswith("refused: "), result.stderr
    # The reason names the offending member (rich wraps long lines: compare without whitespace).
    case = next((c for c in ARCHIVE_CASES if f"{c.id}-{c.filename}" == archive), None)
    expected = case.member if case else BOMBS[archive]
    assert re.sub(r"\s", "", expected) in re.sub(r"\s", "", result.stderr), result.stderr
    assert seconds < 30, f"refusing {archive} took {seconds:.1f} s"


# ------------------------------------------------------------------------------------------ the end state
def test_machine_clean_after_everything(session: Session) -> None:
    """Runs last (file order): after every grading of this module, nothing of this session is left anywhere."""
    for future in [*session.control.values(), *session.baselines.values(), *session.cases.values()]:
        _wait(future)
    deadline = time.monotonic() + 10  # docker's own bookkeeping may lag a moment behind `docker rm -f`
    while (left := session_leftovers()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, left
    # The sandboxes' own work root may stay (empty: its run folders are checked above and per run).
    left_in_tmp = [p for p in session.private_tmp.iterdir() if p != work_root() or any(p.iterdir())]
    assert not left_in_tmp, f"grading left files in the temp dir: {left_in_tmp}"
    assert sandbox_owned(session.system_tmp) <= session.tmp_before
    assert sandbox_owned("/dev/shm") <= session.shm_before
    assert host_sysv_ipc() <= session.ipc_before, "System V IPC objects of the sandbox's uid reached the host"
    assert redis_command("EXISTS", session.redis_key) in (b":0\r\n", None)
    assert not session.canary.peers, session.canary.peers
    print(_summary(session))  # shown with -rP: the scores and times of every grading


def _summary(session: Session) -> str:
    lines = ["case                 kind    score  yardstick  seconds  sandbox runs  not passed"]
    for (name, kind), future in sorted(session.cases.items()):
        result = _wait(future)
        expect = EXPECT.get(name, Expectation())
        yardstick = _wait(session.baselines[(expect.baseline, kind)])
        hostile = result.hostile
        if hostile is None:
            lines.append(f"{name:20s} {kind:7s} grading failed: {result.hostile_error}")
            continue
        not_passed = sorted(f"{n.removeprefix('test_')[:24]}={o}" for n, o in hostile.outcomes.items() if o != "passed")
        lines.append(f"{name:20s} {kind:7s} {hostile.report['score']:5g}  {yardstick.report['score']:9g}  "
                     f"{hostile.seconds:7.1f}  {len(hostile.runs):12d}  {', '.join(not_passed)}")
    return "\n".join(lines)
