"""Users, roles and API tokens (service.py; the CLI's `grader users ...` in commands.py)."""
