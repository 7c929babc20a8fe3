"""The HTTP API: app.py builds it, deps.py authenticates, health.py answers /healthz and /metrics."""
