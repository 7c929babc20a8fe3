"""Emailing a sign-in link over SMTP (smtplib: STARTTLS and a login when configured).

`send_sign_in_mail` runs after the answer has gone out (a background task of the request), so neither a slow
mail server nor the difference between a known and an unknown address shows in the response; it never raises:
a failure is logged for the operator, and the person asking simply gets no mail (and asks staff).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid

from ..settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignInMail:
    to: str  # a normalized address (grader.users.service.normalize_email): no spaces, no line breaks
    url: str
    expires_at: datetime


def mail_configured(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def compose(mail: SignInMail, sender: str) -> EmailMessage:
    message = EmailMessage()  # its default policy refuses a header value with a line break: no header injection
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = "Your TinyTorch grader sign-in link"
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip("> ") or None)
    body = ("Someone (we hope you) asked to sign in to the TinyTorch grader with this address.\n\n"
            f"Open this link to sign in:\n\n{mail.url}\n\n"
            f"It works once, until {mail.expires_at:%Y-%m-%d %H:%M} UTC. If you did not ask for it, ignore\n"
            "this mail: nobody can sign in without the link.\n")
    # 7bit keeps the link one plain line in the raw mail (quoted-printable would fold it and write its "=" as
    # "=3D", which breaks it for any reader that does not decode); a non-ASCII link falls back to the default.
    message.set_content(body, cte="7bit" if body.isascii() else None)
    return message


def send_sign_in_mail(mail: SignInMail, settings: Settings) -> bool:
    """Send `mail` through the configured server; False (and a log line) if it could not be sent."""
    if not settings.smtp_host:
        return False
    try:
        message = compose(mail, settings.smtp_from)
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_s) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                smtp.login(settings.smtp_username, password)
            smtp.send_message(message)
        return True
    except (OSError, smtplib.SMTPException, ValueError) as error:
        # Not the address itself in the log line: the log must not become a list of who tried to sign in.
        log.warning("could not send a sign-in mail via %s:%s: %s: %s", settings.smtp_host, settings.smtp_port,
                    type(error).__name__, error)
        return False
