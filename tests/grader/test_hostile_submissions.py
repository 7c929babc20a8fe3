"""Hostile submissions gain no point and leave the machine clean, under both sandboxes.

Every package of tests/fixtures/hostile_packages (the reference with one shared bug, `zero_grad` clears
nothing, plus one hostile behaviour) is graded with the capstone suite by grader.grading.grade.grade() under
docker and under bubblewrap, with a fixed seed. For each one:
  (a) its score is at most that of the bug alone (graded once per sandbox kind), and no test the bug fails
      passes;
  (b) the unmodified reference, graded right after in the same kind of sandbox, gets the full score with the
      same per-test outcomes as a control grading at the start: the next submission is graded identically;
  (c) after every sandbox run nothing of it is left: no process in its cgroup, no container, no mount, no
      cgroup, no run folder; at the end, no process of uid 65534 from this session's runs (found by cgroup:
      other sessions on this machine may run sandboxes of their own), no container, mount or cgroup of this
      session, nothing left in the temp dir grade() used, nothing new of uid 65534 in /tmp or /dev/shm;
  (d) a secret in this process's environment appears in no report (and, for the package that dumps every
      environment it can read, the dump itself does reach the report: the channel is open, the secret absent);
  (e) the network package leaves no Redis marker key, no connection reaches a canary listener on the host,
      and the report shows only failed attempts;
  (f) gigabytes of output end within a bounded time, with every captured output capped.
Some cases check more: the daemon left by one probe is gone, and /tmp and /dev/shm are empty, in the next
(lurking_daemon); the reference is nowhere student code can read it (steal_reference); no channel into the
host opens for reading (steal_results, eat_channels). Every hostile ARCHIVE of tests/fixtures/hostile is also
run through `grader grade` and must be refused with exit 2 and the reason, naming the member, on stderr.

Gradings run in two threads, one per sandbox kind (each kind's gradings one after another), so the whole
module takes a few minutes; every check that looks for leftovers is keyed by the run's own id, so the other
thread's runs never count against it. Nothing is skipped: when docker or bubblewrap is not ready, the session
runs `bash sandbox/setup.sh` and fails with its output if that does not help.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.grading.grade import GradeOptions, grade
from grader.grading.report import OUTPUT_LIMIT, public_report
from sandbox import Limits, RunResult, RunSpec, Sandbox, SandboxError, get_sandbox
from sandbox.base import SANDBOX_UID, MiB
from sandbox.hostfs import work_root
from tests.fixtures.hostile.cases import CASES as ARCHIVE_CASES
from tests.fixtures.hostile_packages import build

REPO = Path(__file__).resolve().parents[2]
KINDS = ("docker", "bwrap")
SEED = 20251201
TIMEOUT_S = 10.0  # per probe: the hostile ones that never return cost this much
LIMITS = Limits(memory_bytes=512 * MiB)
OPTIONS = GradeOptions(suites=["capstone"], seed=SEED, timeout_per_test_s=TIMEOUT_S, limits=LIMITS)
GRADING_BOUND_S = 300.0  # any one grading, isolation reruns included
FLOOD_BOUND_S = 120.0  # (f): gigabytes of output must not make a grading drag on
SECRET_NAME = "GRADER_SECRET_TOKEN"
SECRET = f"gst-{secrets.token_hex(16)}"
REDIS = ("127.0.0.1", 6379)
RUN_PREFIX = f"tinytorch-sbx-{os.getpid()}-"  # cgroups and containers of this process's runs (hostfs.new_run_id)
HOSTILE = [case.name for case in build.CASES if case.name != build.BUG_ONLY]
# Archives intake refuses at its default limits (the CLI has no way to lower them): the cases that need a
# lowered limit to be refused are accepted as ordinary packages by `grader grade`, by design.
ARCHIVES = [f"{c.id}-{c.filename}" for c in ARCHIVE_CASES if not c.limits]
BOMBS = {"zip_bomb-10GiB.zip": "tinytorch/weights.bin", "tar_bomb-10GiB.tar.gz": "tinytorch/weights.bin",
         "many_members-10000.zip": "more than"}


# (case, kind) pairs: one grading each. (The docker sandbox's FIFOs once let a probe read the host's copy of
# the supervisor's output, and eat the start marker; eat_channels and steal_results guard that fix.)
CASE_PARAMS = [pytest.param(name, kind, id=f"{name}-{kind}") for name in HOSTILE for kind in KINDS]


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
    root = Path("/sys/fs/cgroup")
    return sorted({str(p) for p in root.glob(f"*/{name_glob}")} | {str(p) for p in root.glob(f"*/**/{name_glob}")})


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

    @property
    def outcomes(self) -> dict[str, str]:
        return {t["name"]: t["outcome"] for t in self.report["tests"]}

    @property
    def text(self) -> str:
        return json.dumps(self.report)


@dataclass
class CaseResult:
    hostile: Graded | None  # None when grade() raised (hostile_error)
    hostile_error: str | None = None
    reference_after: Graded | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def grade_package(root: Path, kind: str) -> Graded:
    sandbox = RecordingSandbox(get_sandbox(kind))
    start = time.monotonic()
    report = grade(root, sandbox, OPTIONS)  # type: ignore[arg-type]
    return Graded(public_report(report), time.monotonic() - start, sandbox.records)


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
    control: dict[str, Future[Graded]]
    bug_only: dict[str, Future[Graded]]
    cases: dict[tuple[str, str], Future[CaseResult]]


def _selected_cases(request: pytest.FixtureRequest) -> list[tuple[str, str]]:
    """The (case, kind) pairs the selected tests ask for (all of them when the end-state test is selected):
    `-k` picks a few without paying for every grading."""
    items = [item for item in request.session.items if item.module is request.module]
    if any(item.originalname == "test_machine_clean_after_everything" for item in items):
        return [(name, kind) for name in HOSTILE for kind in KINDS]
    params = [getattr(item, "callspec", None) for item in items]
    return [(p.params["case"], p.params["kind"]) for p in params if p is not None and "case" in p.params]


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
            sandbox_ready: None) -> Iterator[Session]:
    system_tmp = tempfile.gettempdir()
    tmp_before, shm_before = sandbox_owned(system_tmp), sandbox_owned("/dev/shm")
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
              "redis_key": redis_key}
    packages = build.build_all(dest, params)
    reference = build.build_reference(dest)
    # Everything grade() and the sandboxes put in the temp dir goes to a private one, checked empty at the end.
    private_tmp = Path(tempfile.mkdtemp(prefix="hostile-tmp-"))
    private_tmp.chmod(0o755)  # bubblewrap, as uid 65534, opens its mounts through the run folders in here
    saved_tempdir, tempfile.tempdir = tempfile.tempdir, str(private_tmp)
    os.environ[SECRET_NAME] = SECRET
    pools = {kind: ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"grade-{kind}") for kind in KINDS}
    try:
        control = {kind: pools[kind].submit(grade_package, reference, kind) for kind in KINDS}
        bug_only = {kind: pools[kind].submit(grade_package, packages[build.BUG_ONLY], kind) for kind in KINDS}
        cases = {}
        for name, kind in _selected_cases(request):
            cases[(name, kind)] = pools[kind].submit(_grade_case, packages[name], reference, kind, name, redis_key,
                                                     canary)
        yield Session(packages, reference, canary, redis_key, redis_here, private_tmp, system_tmp, tmp_before,
                      shm_before, control, bug_only, cases)
    finally:
        for pool in pools.values():
            pool.shutdown(wait=True, cancel_futures=True)
        for listener in listeners:
            listener.close()
        os.environ.pop(SECRET_NAME, None)
        tempfile.tempdir = saved_tempdir
        shutil.rmtree(private_tmp, ignore_errors=True)
        redis_command("DEL", redis_key)


def _grade_case(root: Path, reference: Path, kind: str, name: str, redis_key: str, canary: Canary) -> CaseResult:
    peers_before = len(canary.peers)
    try:
        result = CaseResult(grade_package(root, kind))
    except SandboxError as error:  # a submission must never be able to pass for an infrastructure failure
        result = CaseResult(None, f"{type(error).__name__}: {error}")
    result.extra = {"redis_marker": redis_command("EXISTS", redis_key), "canary_peers": canary.peers[peers_before:]}
    result.reference_after = grade_package(reference, kind)  # (b): the next submission, right after
    return result


def _wait(future: Future[Any]) -> Any:
    return future.result(timeout=3600)


# ------------------------------------------------------------------------------------------ tests
@pytest.mark.parametrize("kind", KINDS)
def test_reference_and_bug_baselines(session: Session, kind: str) -> None:
    """The two yardsticks: the reference gets everything; the bug alone fails some tests and passes others."""
    control, bug = _wait(session.control[kind]), _wait(session.bug_only[kind])
    assert control.report["score"] == control.report["max_score"], control.outcomes
    assert set(control.outcomes.values()) == {"passed"}, control.outcomes
    failing = {n for n, o in bug.outcomes.items() if o != "passed"}
    assert failing and len(failing) < len(bug.outcomes), f"the shared bug must fail some tests, not all: {failing}"
    assert bug.report["score"] < control.report["score"]
    for graded in (control, bug):
        _assert_runs_clean(graded)
        assert SECRET not in graded.text


@pytest.mark.parametrize(("case", "kind"), CASE_PARAMS)
def test_hostile_package_gains_nothing_and_leaves_nothing(session: Session, case: str, kind: str) -> None:
    result: CaseResult = _wait(session.cases[(case, kind)])
    hostile, after = result.hostile, result.reference_after
    bug, control = _wait(session.bug_only[kind]), _wait(session.control[kind])
    assert after is not None
    # (b) first: whatever happened to the hostile grading, the next submission is graded exactly as before
    assert after.report["score"] == after.report["max_score"] == control.report["score"], after.outcomes
    assert after.outcomes == control.outcomes
    _assert_runs_clean(after)
    assert SECRET not in after.text
    assert hostile is not None, f"grading {case} under {kind} failed as if the sandbox were broken (a submission " \
        f"must never pass for an infrastructure failure): {result.hostile_error}"
    summary = {n: (o, bug.outcomes.get(n)) for n, o in hostile.outcomes.items()}

    # (a) no point gained, and nothing the bug fails passes
    assert set(hostile.outcomes) == set(bug.outcomes), "every graded test must be reported"
    assert hostile.report["score"] <= bug.report["score"], f"{case} gained points under {kind}: {summary}"
    gained = [n for n, o in hostile.outcomes.items() if o == "passed" and bug.outcomes[n] != "passed"]
    assert not gained, f"{case} made tests the bug fails pass under {kind}: {gained}"
    assert hostile.seconds < GRADING_BOUND_S, f"grading took {hostile.seconds:.0f} s"

    # (c) every sandbox run left nothing behind, and no output beyond its cap came back
    _assert_runs_clean(hostile)

    # (d) no secret anywhere, for every case
    for graded in (hostile, after):
        assert SECRET not in graded.text, f"the secret leaked into the report of {case} under {kind}"
        assert not any(r.secret_seen for r in graded.runs), "the secret reached a sandbox's output"

    CASE_CHECKS.get(case, lambda *_: None)(session, result, kind)


def _assert_runs_clean(graded: Graded) -> None:
    assert graded.runs, "grade() ran no sandbox"
    for record in graded.runs:
        assert not record.leftovers, f"run {record.run_id} left: {record.leftovers}"
        assert record.stdout_bytes <= record.output_cap and record.stderr_bytes <= record.output_cap
    for test in graded.report["tests"]:
        assert len(test["output"]) <= OUTPUT_LIMIT


def _check_network(session: Session, result: CaseResult, kind: str) -> None:
    """(e) No marker in Redis, nothing reached the canary, and the report shows only failed attempts."""
    assert result.hostile is not None
    text = result.hostile.text
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
    assert result.hostile is not None
    text = result.hostile.text
    assert "OPENBLAS_NUM_THREADS" in text, "the environment dump did not reach the report: the check proves nothing"
    assert SECRET not in text and SECRET_NAME not in text


def _check_flood(session: Session, result: CaseResult, kind: str) -> None:
    """(f) Gigabytes of output: bounded time, capped outputs (the caps themselves are checked for every case)."""
    assert result.hostile is not None
    assert result.hostile.seconds < FLOOD_BOUND_S, f"the flood made grading take {result.hostile.seconds:.0f} s"
    assert max(len(t["output"]) for t in result.hostile.report["tests"]) <= OUTPUT_LIMIT


def _check_reference_unreadable(session: Session, result: CaseResult, kind: str) -> None:
    assert result.hostile is not None
    assert "using the reference at" not in result.hostile.text, "the student's code could read the reference"


def _check_channels_unreadable(session: Session, result: CaseResult, kind: str) -> None:
    """Stealing from the supervisor's output is a race the hostile package rarely wins, so a clean score proves
    little: what must hold is that it cannot open any channel into the host for reading at all."""
    assert result.hostile is not None
    reports = [t["output"] for t in result.hostile.report["tests"]]
    assert all("STEAL opened=" in output for output in reports), "a probe did not report: the check proves nothing"
    opened = sorted({path for output in reports for path in re.findall(r"'(/run/[^']+)'", output)})
    assert not opened, f"a probe opened the host's channels for reading: {opened}"


def _check_lurker(session: Session, result: CaseResult, kind: str) -> None:
    """Between probes the supervisor kills every process and empties /tmp and /dev/shm: no probe ever finds
    the daemon or the files the previous one left."""
    assert result.hostile is not None
    reports = [t["output"] for t in result.hostile.report["tests"]]
    assert all("LURKER alive=" in output for output in reports), "a probe did not report: the check proves nothing"
    assert all("LURKER alive=False planted=False" in output for output in reports), reports


CASE_CHECKS: dict[str, Callable[[Session, CaseResult, str], None]] = {
    "lurking_daemon": _check_lurker,
    "network": _check_network,
    "steal_secrets": _check_secrets,
    "output_flood": _check_flood,
    "steal_reference": _check_reference_unreadable,
    "steal_results": _check_channels_unreadable,
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
    for future in [*session.control.values(), *session.bug_only.values(), *session.cases.values()]:
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
    assert redis_command("EXISTS", session.redis_key) in (b":0\r\n", None)
    assert not session.canary.peers, session.canary.peers
    print(_summary(session))  # shown with -rP: the scores and times of every grading


def _summary(session: Session) -> str:
    lines = ["case                kind    score  bug-only  seconds  sandbox runs  not passed"]
    for (name, kind), future in session.cases.items():
        result, bug = _wait(future), _wait(session.bug_only[kind])
        hostile = result.hostile
        if hostile is None:
            lines.append(f"{name:19s} {kind:7s} grading failed: {result.hostile_error}")
            continue
        not_passed = sorted(f"{n.removeprefix('test_')[:24]}={o}" for n, o in hostile.outcomes.items() if o != "passed")
        lines.append(f"{name:19s} {kind:7s} {hostile.report['score']:5g}  {bug.report['score']:8g}  "
                     f"{hostile.seconds:7.1f}  {len(hostile.runs):12d}  {', '.join(not_passed)}")
    return "\n".join(lines)
