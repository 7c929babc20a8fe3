"""Grades flow to the LMS: gradebook CSV exports (csv_export) and the rest of the LMS side."""
