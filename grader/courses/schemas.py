"""Request bodies of the course routes: a field the contract does not name is refused (422, naming it), so a
typo like "due" for "due_at" never silently does nothing. Times are ISO 8601 strings, checked by the service
(grader.courses.zones), which names the problem in words ("has no time zone")."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def given(self) -> dict[str, Any]:
        """The fields the request set (a PATCH changes only those; an explicit null clears a nullable one)."""
        return self.model_dump(exclude_unset=True)


class CourseCreate(Strict):
    slug: str = Field(max_length=64)
    name: str = Field(max_length=200)


class CourseEdit(Strict):
    name: str | None = Field(default=None, max_length=200)
    archived: bool | None = None


class AssignmentFields(Strict):
    title: str | None = Field(default=None, max_length=200)
    suites: list[str] | None = Field(default=None, max_length=64)
    opens_at: str | None = Field(default=None, max_length=64)
    due_at: str | None = Field(default=None, max_length=64)
    due_time_zone: str | None = Field(default=None, max_length=64)
    late_policy: dict[str, Any] | None = None
    score_policy: Literal["best", "latest"] | None = None
    # Strict: JSON true is no number of submissions, and the service names what is wrong with a point value.
    max_submissions_per_hour: StrictInt | None = None
    points: dict[str, Any] | None = None
    rubric_visibility: dict[str, str] | None = None
    edition: str | None = Field(default=None, max_length=16)


class AssignmentCreate(AssignmentFields):
    slug: str = Field(max_length=64)
    title: str = Field(max_length=200)  # type: ignore[assignment]


class AssignmentEdit(AssignmentFields):
    archived: bool | None = None


class MemberAdd(Strict):
    email: str = Field(max_length=254)
    name: str | None = Field(default=None, max_length=200)
    role: Literal["student", "ta", "instructor"] | None = None
    section: str | None = Field(default=None, max_length=100)


class MemberEdit(Strict):
    role: Literal["student", "ta", "instructor"] | None = None
    section: str | None = Field(default=None, max_length=100)
    dropped: bool | None = None


class ExtensionGrant(Strict):
    due_at: str = Field(max_length=64)
    reason: str | None = Field(default=None, max_length=1000)
