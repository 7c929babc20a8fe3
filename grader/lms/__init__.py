"""Grades flow to the LMS: one event per change of a counting score (grader.lms.events), fanned out to the
channels a course has (for now its signed webhooks: grader.lms.webhooks). Grading knows nothing of the channels."""
