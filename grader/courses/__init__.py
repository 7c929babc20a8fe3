"""Courses, enrollments and assignments (service.py)."""
