"""Submissions: accept an upload, store it, grade it (through the worker), report on it."""
