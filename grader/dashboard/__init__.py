"""The instructor dashboard, for course staff (instructors and TAs), served as JSON under /api/v1/instructor
(routes.py). One module per job:

- access.py: who may see which course (403 for non-staff, 404 for another course's staff)
- coursework.py: a course's submissions, extensions and which submission counts (grader.courses.counting)
- table.py: the roster and the grade table;  export.py: the same as CSV
- charts.py: score histogram, per-test failure rates, failures by module
- reports.py: one submission's full report;  history.py: every submission of one student
- overrides.py: staff's score overrides;  regrades.py: regrades and their batches
- status.py: the operational view (stuck gradings, sick sandboxes)
"""
