"""Signing in (docs/sign-in.md): one-time links by email or from course staff, API tokens pasted into the sign-in
page, and the web sessions (the `tt_session` cookie and its CSRF token) they start."""
