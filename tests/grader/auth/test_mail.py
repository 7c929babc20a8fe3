"""Sending the link: SMTP with a login, a mail server that hangs (the answer does not wait for it, the failure
is logged), and a mail that cannot carry an injected header."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from conftest import Mailbox, People, auth_app, free_port
from pydantic import SecretStr
from sqlalchemy.orm import Session

from grader.auth.mail import SignInMail, compose, send_sign_in_mail
from grader.db.base import utcnow
from grader.settings import Settings, get_settings

MAIL = SignInMail(to="ada@example.edu", url="http://x/sign-in/link?token=abc", expires_at=utcnow())


@pytest.fixture
def hanging_smtp_server() -> Iterator[int]:
    """A TCP server that accepts and never says a word (an SMTP server stuck before its greeting)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        for connection in held:
            connection.close()
        listener.close()


def test_the_mail_logs_in_when_a_username_is_set() -> None:
    mailbox = Mailbox()
    seen: list[tuple[bytes, bytes]] = []

    def check(server: object, session: object, envelope: object, mechanism: str, data: object) -> AuthResult:
        assert isinstance(data, LoginPassword)
        seen.append((data.login, data.password))
        return AuthResult(success=data.password == b"s3cret")

    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, authenticator=check, auth_required=True,
                            auth_require_tls=False)
    controller.start()
    try:
        settings = Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False, smtp_username="grader",
                            smtp_password="s3cret", smtp_timeout_s=5)
        assert send_sign_in_mail(MAIL, settings)
        assert mailbox.arrived.wait(5) and seen == [(b"grader", b"s3cret")]
        # (aiosmtpd answers a failed login slowly: the timeout bounds it, as it would any slow server.)
        wrong = settings.model_copy(update={"smtp_password": SecretStr("wrong"), "smtp_timeout_s": 1})
        assert not send_sign_in_mail(MAIL, wrong)  # refused login: logged, not raised
    finally:
        controller.stop()


def test_a_hanging_mail_server_costs_the_sender_its_timeout_and_is_logged(
        hanging_smtp_server: int, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(smtp_host="127.0.0.1", smtp_port=hanging_smtp_server, smtp_timeout_s=1)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="grader.auth.mail"):
        assert not send_sign_in_mail(MAIL, settings)
    assert 0.9 < time.monotonic() - started < 5
    assert "could not send a sign-in mail via 127.0.0.1" in caplog.text and "ada@example.edu" not in caplog.text


def test_the_answer_does_not_wait_for_a_hanging_mail_server(hanging_smtp_server: int, db_session: Session,
                                                            people: People, configure: Callable[..., None]) -> None:
    configure(smtp_host="127.0.0.1", smtp_port=str(hanging_smtp_server), smtp_timeout_s="3")
    server = uvicorn.Server(uvicorn.Config(auth_app(db_session), host="127.0.0.1", port=free_port(),
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        port = server.config.port
        started = time.monotonic()
        response = httpx.post(f"http://127.0.0.1:{port}/auth/link", json={"email": "ada@example.edu"}, timeout=10)
        took = time.monotonic() - started
        assert response.status_code == 202 and "on its way" in response.json()["detail"]
        assert took < 2, f"the answer waited {took:.1f} s for the mail server"
    finally:
        server.should_exit = True
        thread.join(10)
        get_settings.cache_clear()


def test_no_header_can_be_injected_through_the_address() -> None:
    bad = SignInMail(to="ada@example.edu\r\nBcc: eve@example.edu", url="http://x/", expires_at=utcnow())
    with pytest.raises(ValueError):
        compose(bad, "grader@example.edu").as_bytes()
    settings = Settings(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_timeout_s=1)
    assert not send_sign_in_mail(bad, settings)  # refused before any connection, and not raised
    text = compose(MAIL, "Grader <grader@example.edu>").as_string()
    assert "To: ada@example.edu\n" in text and "Bcc" not in text and "http://x/sign-in/link?token=abc" in text
    assert f"{MAIL.expires_at:%Y-%m-%d %H:%M} UTC" in text and "=3D" not in text


def test_starttls_is_never_skipped_for_a_server_that_does_not_offer_it(caplog: pytest.LogCaptureFixture) -> None:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)  # no TLS offered
    controller.start()
    try:
        settings = Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=True, smtp_username="grader",
                            smtp_password="s3cret", smtp_timeout_s=5)
        with caplog.at_level(logging.WARNING, logger="grader.auth.mail"):
            assert not send_sign_in_mail(MAIL, settings)
        assert "SMTPNotSupportedError" in caplog.text
        assert not mailbox.received  # nothing, and no password, went out in the clear
    finally:
        controller.stop()
