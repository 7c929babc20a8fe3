"""Checks: pure functions of (challenge, artefacts) that decide a verdict, on the trusted side."""
