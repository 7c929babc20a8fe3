"""Copied work is noticed (docs/similarity.md): after a grade is committed, the student's counting submission is
compared with known solutions and, incrementally, with the other students' counting submissions; course staff
review the pairs. Nothing here changes a score or is shown to students.

engine.py (copydetect, stored fingerprints) · sources.py (a package's .py files) · library.py (known solutions,
starter code) · comparison.py (the task's body) · queue.py (sending it after the commit) · task.py (Celery) ·
service.py, routes.py, commands.py (the API and CLI).
"""
