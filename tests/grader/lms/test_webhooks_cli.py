"""`grader webhooks add|list|redeliver` through the real typer app on a fresh database, as an operator types it:
the secret is the last line of `add`; bad input exits 2 with the reason."""

from __future__ import annotations

from typing import Any

from standardwebhooks.webhooks import Webhook


def test_add_list_and_redeliver(grader: Any) -> None:
    added = grader("webhooks", "add", "default", "http://127.0.0.1:9/hook", "--events",
                   "submission.graded,grade.changed")
    assert added.exit_code == 0, added.output
    secret = added.output.strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    Webhook(secret)  # the stock library takes it as is
    listed = grader("webhooks", "list", "default")
    assert listed.exit_code == 0
    assert "http://127.0.0.1:9/hook\tsubmission.graded,grade.changed\tactive" in listed.output
    assert secret not in listed.output
    everything = grader("webhooks", "add", "default", "https://lms.example.edu/h")
    assert everything.exit_code == 0 and "submission.failed" in everything.output

    missing = grader("webhooks", "redeliver", "4242")
    assert missing.exit_code == 2 and "no webhook delivery 4242" in missing.output


def test_bad_input_is_refused(grader: Any) -> None:
    for args, says in [
        (("add", "default", "ftp://x.edu/h"), "http:// or https://"),
        (("add", "default", "http://x.edu/h", "--events", "submission.graded,nope"), "'nope' is not one of"),
        (("add", "nocourse", "http://x.edu/h"), "no course 'nocourse'"),
        (("list", "nocourse"), "no course 'nocourse'"),
    ]:
        result = grader("webhooks", *args)
        assert result.exit_code == 2 and says in result.output, (args, result.output)
    assert "no webhooks in default" in grader("webhooks", "list", "default").output
