"""Grades flow to the LMS: one event per change of a counting score (grader.lms.events), fanned out to the
channels a course has (its signed webhooks: grader.lms.webhooks); gradebook CSV exports (grader.lms.csv_export).
Grading knows nothing of the channels."""
