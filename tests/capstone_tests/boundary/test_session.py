"""The boundary between local processes: pipelining, errors, faults of the student's side, measurement, cleanup.

Each test writes a tiny `tinytorch` package and drives it through a real supervisor process (ProcessLink, no
sandbox: the sandboxes are tested in tests/sandbox and tests/grader).
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from capstone_tests.boundary.proxy import RemoteResolver, materialize, view
from capstone_tests.boundary.session import (
    MalformedAnswer,
    ProcessLink,
    RemoteError,
    ServerGone,
    Session,
    TestTimeout,
)
from capstone_tests.resolver import ModuleMissing

TENSOR = """
import numpy as np

class Tensor:
    def __init__(self, data, requires_grad=False):
        self.data = np.asarray(data, dtype=np.float32)
        self.requires_grad = requires_grad
        self.grad = None

    def __add__(self, other):
        return Tensor(self.data + other.data)

    def __matmul__(self, other):
        return Tensor(self.data @ other.data)

    def sum(self):
        return Tensor(self.data.sum())
"""


def package(tmp_path: Path, tensor_extra: str = "", init: str = "") -> Path:
    root = tmp_path / "pkg"
    (root / "tinytorch" / "core").mkdir(parents=True)
    (root / "tinytorch" / "__init__.py").write_text(textwrap.dedent(init))
    (root / "tinytorch" / "core" / "__init__.py").write_text("")
    (root / "tinytorch" / "core" / "tensor.py").write_text(TENSOR + textwrap.dedent(tensor_extra))
    return root


@pytest.fixture
def open_session() -> Iterator[list[Session]]:
    sessions: list[Session] = []
    yield sessions
    for session in sessions:
        session.close()


def start(root: Path, sessions: list[Session]) -> Session:
    session = Session(ProcessLink(root))
    sessions.append(session)
    return session


def test_pipelined_calls_wait_only_for_reads(tmp_path: Path, open_session: list[Session]) -> None:
    session = start(package(tmp_path), open_session)
    channel = session.start(10)
    tt = RemoteResolver(channel)
    total = tt.Tensor(np.zeros((2, 2), np.float32))
    for i in range(500):
        total = total + tt.Tensor(np.full((2, 2), i, np.float32))
    result = view("values", total.sum())
    assert result == 4 * sum(range(500)) and result.dtype == np.float32
    assert channel.round_trips == 2  # the import, then the one read
    assert materialize({"x": [total.data]})["x"][0].shape == (2, 2)
    end = session.end(channel)
    assert end.keeper == "ok" and end.cpu_seconds is not None and end.peak_rss_bytes is not None


def test_an_error_surfaces_at_the_next_read_naming_the_call(tmp_path: Path, open_session: list[Session]) -> None:
    session = start(package(tmp_path), open_session)
    channel = session.start(10)
    tt = RemoteResolver(channel)
    bad = tt.Tensor(np.ones((2, 3), np.float32)) @ tt.Tensor(np.ones((2, 3), np.float32))
    tt.Tensor(np.ones(1, np.float32)).no_such_method()
    with pytest.raises(RemoteError) as raised:
        view("values", bad)
    assert raised.value.failure.type == "ValueError" and raised.value.during.startswith("matmul(")
    [matmul] = [frame for frame in raised.value.failure.frames if frame["file"].endswith("tinytorch/core/tensor.py")]
    assert matmul["args"] == ["self", "other"]  # for the trusted side's blame (capstone_tests/blame.py)
    # after the error is reported the server serves again
    assert view("values", tt.Tensor(np.ones(1, np.float32))).tolist() == [1.0]
    session.end(channel)


def test_missing_module_and_name(tmp_path: Path, open_session: list[Session]) -> None:
    session = start(package(tmp_path), open_session)
    channel = session.start(10)
    tt = RemoteResolver(channel)
    with pytest.raises(ModuleMissing, match=r"module 03 .layers. not found: No module named 'tinytorch\.core\.layers'"):
        tt.Linear(2, 3)
    with pytest.raises(AttributeError):
        tt.NotAContractName  # noqa: B018
    session.end(channel)


def test_a_hung_call_times_out_naming_the_call(tmp_path: Path, open_session: list[Session]) -> None:
    root = package(tmp_path, "\ndef spin(self):\n    while True:\n        pass\nTensor.spin = spin\n")
    session = start(root, open_session)
    channel = session.start(2.5)
    tt = RemoteResolver(channel)
    started = time.monotonic()
    with pytest.raises(TestTimeout) as raised:
        view("values", tt.Tensor(np.ones(1, np.float32)).spin())
    assert 2.4 < time.monotonic() - started < 6
    assert raised.value.waiting_for.endswith(".spin(...)")
    end = session.end(channel)
    assert end.cpu_seconds is not None and end.cpu_seconds > 0.3  # the spinning was measured (2 loaded cores)
    channel = session.start(5)  # the next test runs in a fresh server
    assert view("values", RemoteResolver(channel).Tensor(np.ones(1, np.float32))).tolist() == [1.0]
    session.end(channel)


def test_a_process_that_exits_is_gone_not_hung(tmp_path: Path, open_session: list[Session]) -> None:
    root = package(tmp_path, "\nimport os\ndef leave(self):\n    os._exit(7)\nTensor.leave = leave\n")
    session = start(root, open_session)
    channel = session.start(30)
    started = time.monotonic()
    with pytest.raises(ServerGone):
        view("values", RemoteResolver(channel).Tensor(np.ones(1, np.float32)).leave())
    assert time.monotonic() - started < 5
    assert session.end(channel).exit == 7


@pytest.mark.parametrize("junk", [
    b"[" * 5000 + b"\n",  # nested past any limit
    b'{"r": "values", "values": [' + b"9" * 500 + b"]}\n",  # an integer of 500 digits
    b'{"r": "values", "values": [NaN]}\n',
    b"\xff\xfe garbage\n",
])
def test_forged_answers_are_malformed_never_a_crash(tmp_path: Path, open_session: list[Session],
                                                    junk: bytes) -> None:
    forge = f"\nimport os\ndef forge(self):\n    os.write(4, {junk!r})\n    return self\nTensor.forge = forge\n"
    session = start(package(tmp_path, forge), open_session)
    channel = session.start(10)
    with pytest.raises(MalformedAnswer):
        view("values", RemoteResolver(channel).Tensor(np.ones(1, np.float32)).forge())
    session.end(channel)


def test_cpu_of_an_orphaned_grandchild_is_measured(tmp_path: Path, open_session: list[Session]) -> None:
    done = tmp_path / "done"
    work = f"""
    import os, time
    def offload(self):
        if os.fork() == 0:
            if os.fork() == 0:
                end = time.process_time() + 1.0
                while time.process_time() < end:
                    pass
                open({str(done)!r}, "w").close()
                time.sleep(60)
            os._exit(0)
        os.wait()
        return self
    Tensor.offload = offload
    """
    session = start(package(tmp_path, work), open_session)
    channel = session.start(60)
    view("values", RemoteResolver(channel).Tensor(np.ones(1, np.float32)).offload())
    deadline = time.monotonic() + 30
    while not done.exists() and time.monotonic() < deadline:  # it spins on after the answer
        time.sleep(0.05)
    end = session.end(channel)
    assert end.cpu_seconds is not None and end.cpu_seconds >= 0.9


def test_each_test_sees_a_fresh_process(tmp_path: Path, open_session: list[Session]) -> None:
    root = package(tmp_path, init="COUNT = []\n")
    session = start(root, open_session)
    for number in range(3):
        channel = session.start(10)
        tt = RemoteResolver(channel)
        count = tt.module(1).Tensor  # import the package
        del count
        module = tt.module(1)
        assert view("length", module.np.zeros(number + 1)) == number + 1
        session.end(channel)


SCAN = """
import os, re

def leak(self, token):
    line = "LEAK-" + token
    print(line * 50)  # captured output
    return line * 50  # and an answer: both pass through this test's keeper only

def scan(self):
    found = set()
    pattern = re.compile(rb"LEAK-([0-9a-f]{32})")
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", buffering=0) as mem:
        for line in maps:
            fields = line.split()
            if "r" not in fields[1] or (len(fields) > 5 and fields[5] in ("[vvar]", "[vsyscall]", "[vdso]")):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            try:
                mem.seek(start)
                found.update(m.decode() for m in pattern.findall(mem.read(end - start)))
            except (OSError, OverflowError, ValueError):
                continue
    return sorted(found)

Tensor.leak = leak
Tensor.scan = scan
"""


def test_no_later_test_inherits_an_earlier_tests_bytes(tmp_path: Path, open_session: list[Session]) -> None:
    """Requests, answers and output of a test pass through its keeper only: a later test's process, forked from
    the supervisor, finds none of them in the memory it inherited (and the scan does find them where they are)."""
    token = "0123456789abcdef" * 2
    session = start(package(tmp_path, SCAN), open_session)
    channel = session.start(30)
    one = RemoteResolver(channel).Tensor(np.ones(1, np.float32))
    assert view("text", one.leak(token)).startswith("LEAK-")
    assert token in view("as_list", one.scan())  # the scan works: in its own test, the token is there
    session.end(channel)
    channel = session.start(30)
    assert token not in view("as_list", RemoteResolver(channel).Tensor(np.ones(1, np.float32)).scan())
    session.end(channel)
