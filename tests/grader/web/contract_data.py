"""The data the contract app (contract_app.py) answers with: one course term as docs/course-api.md shapes it,
with the awkward cases the pages must get right (a failed grading, a delayed queue, a test list with long
diagnostics, an override, an extension, a due date given in another zone)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from capstone_tests.checks.example import make_example

DELAYED = ("Grading is delayed: our grader had a problem, not you. Your submission is safe and will be graded "
           "automatically; resubmitting is safe.")
LONG_DIAGNOSTIC = ("Module 05 autograd: Tensor.backward() left x.grad at None after y = (x * w).sum(); "
                   "the gradient never reached the leaf tensor " + "x" * 300)
X = np.linspace(-3.123456, 3.987654, 32 * 32).reshape(32, 32)
EXAMPLE = make_example({"x": X, "w": np.ones((32, 32))}, X * 2, X * 2 + (X > 3) * 1000.5, (31, 30))

# A file name is the student's own text: the page shows it as text, never as markup.
HOSTILE_NAME = 'ada-second<img src=x onerror="window.pwned=1">.zip'
TOKENS = {"tt_ada_secret": "ada@example.edu", "tt_teach_secret": "teach@example.edu", "tt_ta_secret": "ta@example.edu"}


def users() -> dict[str, dict[str, Any]]:
    return {
        "ada@example.edu": {"id": 11, "name": "Ada Lovelace", "role": "student", "prefix": "tt_ada_"},
        "teach@example.edu": {"id": 1, "name": "Grace Hopper", "role": "instructor", "prefix": "tt_teach"},
        "ta@example.edu": {"id": 2, "name": "Alan Turing", "role": "student", "prefix": "tt_ta_se"},
    }


def assignments() -> list[dict[str, Any]]:
    return [
        {"course": "cs1", "course_name": "TinyTorch spring 2027", "slug": "autograd", "title": "Autograd",
         "suites": ["05_autograd"], "opens_at": "2027-01-01T09:00:00+05:30", "due_at": "2027-01-10T23:59:00+05:30",
         "due_time_zone": "+05:30", "your_due_at": "2027-01-12T23:59:00+05:30",
         "late_policy": {"penalty_per_day": 0.0, "max_late_days": 0}, "score_policy": "latest",
         "max_submissions_per_hour": 5, "archived": False},
        {"course": "cs1", "course_name": "TinyTorch spring 2027", "slug": "capstone", "title": "Capstone",
         "suites": ["capstone"], "opens_at": None, "due_at": "2027-01-15T23:59:00+01:00",
         "due_time_zone": "Europe/Zurich", "your_due_at": None,
         "late_policy": {"penalty_per_day": 0.1, "max_late_days": 7}, "score_policy": "best",
         "max_submissions_per_hour": None, "archived": False},
    ]


def test(name: str, priority: int | None, outcome: str, points: float, max_points: float,
         **extra: Any) -> dict[str, Any]:
    row = {"name": name, "suite": "capstone", "priority": priority, "outcome": outcome, "points": points,
           "max_points": max_points, "module": None, "diagnostic": None, "evidence": {}, "output": "",
           "counts_toward_grade": True, "where": None, "what": None, "hint": None}
    row.update(extra)
    return row


FAILING_TESTS = [
    test("test_tensor_basics", 1, "passed", 10, 10),
    test("test_training_pipeline", 1, "passed", 20, 20),
    test("test_autograd_chain_rule", 2, "failed", 0, 15, module=5, module_label="05 autograd",
         diagnostic=LONG_DIAGNOSTIC, where={"module": "tinytorch.core.autograd", "file": "tinytorch/core/autograd.py",
                                            "function": "backward", "line": 142},
         what=LONG_DIAGNOSTIC, hint="Accumulate into .grad of every leaf that requires_grad; do not overwrite it.",
         evidence={"example": EXAMPLE, "checked": "x.grad", "raw_trace": "Traceback: " + "frame " * 80},
         output="E   AssertionError: x.grad is None\n" + "-" * 400),
    test("test_cnn_architecture", 3, "error", 0, 15, module=9, module_label="09 spatial",
         diagnostic="module 09 (spatial) not found",
         where={"module": None, "file": None, "function": None, "line": None},
         what="module 09 (spatial) not found", hint=None),
    test("test_convergence", 3, "passed", 20, 20),
    test("test_profiler_report", None, "passed", 0, 0, suite="14_profiling", counts_toward_grade=False),
]
PASSING_TESTS = [dict(t, outcome="passed", points=t["max_points"], diagnostic=None, where=None, what=None,
                      hint=None, evidence={}, output="") for t in FAILING_TESTS]
PRIORITIES = [{"priority": 1, "name": "pipeline", "score": 30, "max_score": 30},
              {"priority": 2, "name": "autograd", "score": 0, "max_score": 15},
              {"priority": 3, "name": "models", "score": 20, "max_score": 35}]


def submission(sid: str, email: str, assignment: str, status: str, created_at: str, **extra: Any) -> dict[str, Any]:
    row = {"id": sid, "email": email, "status": status, "assignment": assignment, "course": "cs1",
           "score": None, "max_score": 80.0, "filename": "tinytorch.zip", "created_at": created_at,
           "graded_at": None, "tests": [], "priorities": [], "late": None, "compile_errors": [], "error": None,
           "delayed": None, "override": None, "reproduce": None, "suite_version": "suite-7",
           "sandbox_image": "bwrap:3", "seed": 1234}
    row.update(extra)
    if row["status"] == "graded":
        row["graded_at"] = row["graded_at"] or created_at.replace(":00+", ":02+")
        row["reproduce"] = f"pytest capstone_tests --tinytorch . --seed {row['seed']} --suite-version suite-7 -q"
    return row


def submissions() -> dict[str, dict[str, Any]]:
    rows = [
        submission("sub-ada-1", "ada@example.edu", "capstone", "graded", "2027-01-13T10:00:00+00:00", score=50.0,
                   tests=copy.deepcopy(FAILING_TESTS), priorities=PRIORITIES, filename="ada-first.zip"),
        submission("sub-ada-2", "ada@example.edu", "capstone", "failed", "2027-01-14T10:00:00+00:00",
                   error="the sandbox could not start", filename=HOSTILE_NAME),
        submission("sub-ada-3", "ada@example.edu", "capstone", "queued", "2027-01-14T11:00:00+00:00",
                   delayed=DELAYED, filename="ada-third.tar.gz"),
        submission("sub-ada-4", "ada@example.edu", "autograd", "graded", "2027-01-09T10:00:00+00:00", score=15.0,
                   max_score=15.0, tests=[copy.deepcopy(PASSING_TESTS[2])], filename="autograd.zip",
                   priorities=[{"priority": 2, "name": "autograd", "score": 15, "max_score": 15}]),
        submission("sub-bob-1", "bob@example.edu", "capstone", "graded", "2027-01-18T10:00:00+00:00", score=80.0,
                   tests=copy.deepcopy(PASSING_TESTS), priorities=PRIORITIES, filename="bob.zip",
                   late={"days_late": 3, "penalty": 0.3, "counts": True, "max_late_days": 7, "adjusted_score": 56.0},
                   override={"score": 70.0, "comment": "email outage on the due date", "by": "teach@example.edu",
                             "at": "2027-01-19T08:00:00+00:00"}),
        submission("sub-cy-1", "cy@example.edu", "capstone", "graded", "2027-01-15T10:00:00+00:00", score=20.0,
                   tests=copy.deepcopy(FAILING_TESTS), priorities=PRIORITIES, filename="cy.zip"),
    ]
    return {row["id"]: row for row in rows}


def roster() -> list[dict[str, Any]]:
    return [
        {"user_id": 1, "email": "teach@example.edu", "name": "Grace Hopper", "role": "instructor", "section": None,
         "sis_id": None, "dropped": False, "last_submission_at": None},
        {"user_id": 11, "email": "ada@example.edu", "name": "Ada Lovelace", "role": "student", "section": "A",
         "sis_id": "s11", "dropped": False, "last_submission_at": "2027-01-14T11:00:00+00:00"},
        {"user_id": 12, "email": "bob@example.edu", "name": "Bob Barker", "role": "student", "section": "B",
         "sis_id": "s12", "dropped": False, "last_submission_at": "2027-01-18T10:00:00+00:00"},
        {"user_id": 13, "email": "cy@example.edu", "name": None, "role": "student", "section": "A",
         "sis_id": None, "dropped": False, "last_submission_at": "2027-01-15T10:00:00+00:00"},
        {"user_id": 14, "email": "dee@example.edu", "name": "Dee Dee", "role": "student", "section": "B",
         "sis_id": None, "dropped": False, "last_submission_at": None},
    ]


MODULES = {"students": 3, "modules": [
    {"module": "5", "label": "05 autograd", "students_failing": 2, "share": 2 / 3,
     "tests_failing": ["capstone::test_autograd_chain_rule"]},
    {"module": "9", "label": "09 spatial", "students_failing": 1, "share": 1 / 3,
     "tests_failing": ["capstone::test_cnn_architecture"]},
], "priorities": [{"priority": 1, "name": "pipeline", "mean_score": 30.0, "max_score": 30.0},
                  {"priority": 2, "name": "autograd", "mean_score": 5.0, "max_score": 15.0},
                  {"priority": 3, "name": "models", "mean_score": 21.67, "max_score": 35.0}]}
