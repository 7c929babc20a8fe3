"""The instructor dashboard: grade table, charts' data, full reports, regrades and CSV (service.py), served
as JSON under /api/v1/instructor (routes.py)."""
