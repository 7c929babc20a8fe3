"""300 slow clients (one byte a second, in their headers or in their upload's body) against a real `grader serve`
whose open-file limit is 256: honest uploads meanwhile get 202 or a 503 with words, never a 500 and never a hang;
the server never runs out of descriptors; every slow client is answered (408 or 503) and let go in bounded time."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import ExitStack, suppress
from pathlib import Path

from outage_services import lowered_open_files, serve_api, upload
from running_server import grader_env

OPEN_FILES = 256
SLOW_CLIENTS = 300
HEAD_TIMEOUT_S = 5
BODY_TIMEOUT_S = 5
WINDOW_S = 25
BOUNDARY = "slowboundary"


def slow_socket(port: int, in_body: bool) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", port), timeout=30)
    if in_body:
        # A well-formed start of an upload, whose file then arrives a byte a second.
        part = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.zip\"\r\n"
                "Content-Type: application/zip\r\n\r\n")
        connection.sendall((f"POST /api/v1/submissions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nobody\r\n"
                            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: 1000000\r\n"
                            f"\r\n{part}").encode())
    else:
        connection.sendall(b"POST /api/v1/submissions HTTP/1.1\r\n")
    connection.setblocking(False)
    return connection


def open_descriptors(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def test_slow_clients_cannot_starve_honest_uploads(tmp_path: Path, reference_zip: Path) -> None:
    env = grader_env(GRADER_DATA_DIR=str(tmp_path / "data"), GRADER_HTTP_HEAD_TIMEOUT_S=str(HEAD_TIMEOUT_S),
                     GRADER_HTTP_BODY_TIMEOUT_S=str(BODY_TIMEOUT_S))
    with ExitStack() as stack:
        with lowered_open_files(OPEN_FILES):  # the server inherits the limit; this test's own sockets do not
            server = stack.enter_context(serve_api(env, tmp_path / "serve.log"))
        pid = server.process.pid
        port = int(server.url.rsplit(":", 1)[1])
        token = server.add_user("honest@example.org", "student")
        peak = [open_descriptors(pid)]
        stop = threading.Event()

        def watch_descriptors() -> None:
            while not stop.is_set():
                peak.append(open_descriptors(pid))
                time.sleep(0.1)

        watcher = threading.Thread(target=watch_descriptors, daemon=True)
        watcher.start()
        opened = time.monotonic()
        honest: list[tuple[float, float, int, dict[str, str], object]] = []

        def honest_client() -> None:
            # From the first slow connection on, so some uploads arrive while the slow ones hold every place.
            while time.monotonic() - opened < WINDOW_S:
                sent = time.monotonic()
                status, headers, body = upload(server.url, token, reference_zip)
                honest.append((sent - opened, time.monotonic() - sent, status, headers, body))
                time.sleep(0.5)

        uploader = threading.Thread(target=honest_client, daemon=True)
        uploader.start()
        # A burst past the listen backlog: a few connects wait for SYN retransmission (1 s), as TCP does.
        slow = [slow_socket(port, in_body=bool(n % 2)) for n in range(SLOW_CLIENTS)]
        answered: dict[int, bytes] = {}  # slow socket index -> what the server sent before it closed
        closed_at: dict[int, float] = {}

        def ended(n: int, connection: socket.socket) -> bool:
            """Read what the server sent; True once it has closed the connection."""
            while True:
                try:
                    data = connection.recv(4096)
                except BlockingIOError:
                    return False
                except OSError:  # reset
                    return True
                if not data:
                    return True
                answered[n] = answered.get(n, b"") + data

        def trickle() -> None:
            while not stop.is_set():
                for n, connection in enumerate(slow):
                    if n in closed_at:
                        continue
                    if ended(n, connection):
                        closed_at[n] = time.monotonic() - opened
                        continue
                    with suppress(OSError):
                        connection.send(b"x")
                time.sleep(1)

        trickler = threading.Thread(target=trickle, daemon=True)
        trickler.start()
        uploader.join(timeout=WINDOW_S + 120)
        assert not uploader.is_alive(), "an honest upload hung"
        stop.set()
        trickler.join(timeout=30)
        watcher.join(timeout=5)
        log = server.read_log()
        for connection in slow:
            connection.close()

    assert "Too many open files" not in log
    assert max(peak) < OPEN_FILES, f"the server held {max(peak)} descriptors"
    for at, took, status, headers, body in honest:
        assert status in (202, 503), (at, status, body)
        assert took < HEAD_TIMEOUT_S + BODY_TIMEOUT_S + 10, f"an honest upload took {took:.1f} s"
        if status == 503:
            assert "nothing was submitted" in body["detail"] and int(headers["retry-after"]) >= 1, body
    assert any(status == 202 for _, _, status, _, _ in honest), "no honest upload got through"
    # Once the slow clients have been cut off, honest uploads get through again.
    cut_off_by = HEAD_TIMEOUT_S + BODY_TIMEOUT_S + 5
    assert all(status == 202 for at, _, status, _, _ in honest if at > cut_off_by), \
        [(round(at, 1), status) for at, _, status, _, _ in honest]
    assert len(closed_at) == SLOW_CLIENTS, f"{SLOW_CLIENTS - len(closed_at)} slow clients were never let go"
    assert max(closed_at.values()) < cut_off_by
    statuses = {n: data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/1.1 ") else "closed"
                for n, data in answered.items()}
    assert set(statuses.values()) <= {"408", "503", "closed"}, set(statuses.values())
    counts = {status: list(statuses.values()).count(status) for status in sorted(set(statuses.values()))}
    print(f"slow clients: {counts}; honest uploads: {[s for _, _, s, _, _ in honest].count(202)} accepted, "
          f"{[s for _, _, s, _, _ in honest].count(503)} refused; peak descriptors {max(peak)} of {OPEN_FILES}")


def read_response(connection: socket.socket) -> bytes:
    """One whole response (with a content-length) from a blocking socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += connection.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    length = int(next(line.split(b":")[1] for line in lines if line.startswith(b"content-length")))
    while len(body) < length:
        body += connection.recv(4096)
    return head + b"\r\n\r\n" + body


def test_kept_alive_connections_serve_requests_and_time_out_a_trickled_second_head(tmp_path: Path) -> None:
    env = grader_env(GRADER_DATA_DIR=str(tmp_path / "data"), GRADER_HTTP_HEAD_TIMEOUT_S="2",
                     GRADER_HTTP_KEEP_ALIVE_S="30")
    with serve_api(env, tmp_path / "serve.log") as server:
        port = int(server.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=20) as connection:
            for _ in range(3):  # one connection, several requests, each well within the head timeout
                connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                assert read_response(connection).startswith(b"HTTP/1.1 200 ")
                time.sleep(1)
            connection.sendall(b"GET /healthz HTTP/1.1\r\n")
            started, answer = time.monotonic(), b""
            for _ in range(10):  # a header byte a second: the head never completes
                time.sleep(1)
                with suppress(OSError):
                    connection.sendall(b"x")
                connection.setblocking(False)
                with suppress(BlockingIOError):
                    answer = connection.recv(4096)
                    break
                connection.setblocking(True)
            took = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"did not arrive within 2 s; nothing was submitted" in answer
    assert took < 5
