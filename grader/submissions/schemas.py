"""Response models of the submissions API (the public shapes of ARCHITECTURE.md)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Accepted(BaseModel):
    id: str
    status: str
    status_url: str


class PriorityScore(BaseModel):
    priority: int | None
    name: str
    score: float
    max_score: float


class TestReport(BaseModel):
    __test__ = False  # not a pytest class

    name: str
    suite: str
    priority: int | None
    outcome: str
    points: float | None
    max_points: float
    module: str | None = None
    diagnostic: str | None
    evidence: dict[str, Any] = {}
    output: str


class Report(BaseModel):
    id: str
    status: str
    assignment: str
    score: float | None
    max_score: float | None
    priorities: list[PriorityScore]
    tests: list[TestReport]
    error: str | None
    created_at: str
    graded_at: str | None


class SubmissionSummary(BaseModel):
    id: str
    status: str
    assignment: str
    score: float | None
    max_score: float | None
    created_at: str
