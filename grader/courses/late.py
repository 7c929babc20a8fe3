"""Late policy: how much a submission handed in after the due date counts. Pure functions, no I/O.

An assignment's `late_policy` is {"penalty_per_day": 0.1, "max_late_days": 7} (both optional; {} = late work
is not penalised). Lateness is counted in whole days rounded up, so one minute late is one day late, and a
submission exactly at the due time is on time. The raw score is never changed: the penalty only decides
what the score *counts* for (grade table, CSV, the student's report).

    parse_late_policy({"penalty_per_day": 0.1})        # LatePolicy, or BadRequest naming what is wrong
    lateness(assignment, submission.created_at)        # Lateness, or None when on time / no due date
    late_report(assignment, created_at, score)         # the report's "late" field (None when on time)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from ..errors import BadRequest

DAY = timedelta(days=1)
POLICY_KEYS = ("penalty_per_day", "max_late_days")


class HasLatePolicy(Protocol):
    """What lateness needs of an assignment (grader.db.models.Assignment has both)."""

    due_at: datetime | None
    late_policy: dict[str, Any]


@dataclass(frozen=True)
class LatePolicy:
    penalty_per_day: float = 0.0
    # None: late work counts (less) however late it is.
    max_late_days: int | None = None


@dataclass(frozen=True)
class Lateness:
    days_late: int
    # Share of the score taken away, 0..1 (1 when the submission is past max_late_days).
    penalty: float
    # False past max_late_days: the submission is graded (feedback) but counts 0.
    counts: bool
    policy: LatePolicy

    @property
    def multiplier(self) -> float:
        return 1.0 - self.penalty

    def adjust(self, score: float | None) -> float | None:
        if score is None:
            return None
        return _tidy(score * self.multiplier)


def _tidy(value: float) -> float:
    # 1 - 3 * 0.1 is 0.6999999999999999 in floating point; a grade should read 0.7.
    return round(value, 9) + 0.0


def parse_late_policy(raw: Mapping[str, Any] | None) -> LatePolicy:
    """The policy stored as JSON, checked: BadRequest naming the first problem found."""
    if raw is None:
        return LatePolicy()
    if not isinstance(raw, Mapping):
        raise BadRequest(f"late_policy must be an object like {{\"penalty_per_day\": 0.1, \"max_late_days\": 7}}, "
                         f"not {raw!r}")
    unknown = sorted(str(k) for k in raw if k not in POLICY_KEYS)
    if unknown:
        raise BadRequest(f"late_policy: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(POLICY_KEYS)}")
    penalty = raw.get("penalty_per_day", 0.0)
    # bool is an int subclass: `true` in a JSON policy is a typo, not a 100 % penalty.
    if isinstance(penalty, bool) or not isinstance(penalty, int | float) or not math.isfinite(penalty):
        raise BadRequest(f"late_policy: penalty_per_day must be a number between 0 and 1, not {penalty!r}")
    if not 0.0 <= penalty <= 1.0:
        raise BadRequest(f"late_policy: penalty_per_day must be between 0 and 1 (a share of the score per day), "
                         f"not {penalty!r}")
    max_days = raw.get("max_late_days")
    if max_days is not None:
        if isinstance(max_days, bool) or not isinstance(max_days, int):
            raise BadRequest(f"late_policy: max_late_days must be a whole number of days, not {max_days!r}")
        if max_days < 0:
            raise BadRequest(f"late_policy: max_late_days must not be negative, not {max_days!r}")
    return LatePolicy(penalty_per_day=float(penalty), max_late_days=max_days)


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything this service stores is UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def days_late(due_at: datetime | None, submitted_at: datetime) -> int:
    """Whole days after `due_at`, rounded up (one minute late is one day); 0 when on time or with no due date."""
    if due_at is None:
        return 0
    late_by = _utc(submitted_at) - _utc(due_at)
    if late_by <= timedelta(0):
        return 0
    return math.ceil(late_by / DAY)


def lateness_for(policy: LatePolicy, days: int) -> Lateness | None:
    if days <= 0:
        return None
    if policy.max_late_days is not None and days > policy.max_late_days:
        return Lateness(days_late=days, penalty=1.0, counts=False, policy=policy)
    penalty = min(1.0, _tidy(policy.penalty_per_day * days))
    return Lateness(days_late=days, penalty=penalty, counts=True, policy=policy)


def lateness(assignment: HasLatePolicy, submitted_at: datetime, due_at: datetime | None = None) -> Lateness | None:
    """How late a submission made at `submitted_at` is, under the assignment's policy; None when on time.
    `due_at`: the student's own due date (an extension) instead of the assignment's."""
    days = days_late(due_at or assignment.due_at, submitted_at)
    if days == 0:
        return None
    return lateness_for(parse_late_policy(assignment.late_policy), days)


def counting_score(assignment: HasLatePolicy, submitted_at: datetime, score: float | None,
                   due_at: datetime | None = None) -> float | None:
    """The score a submission counts for: the raw score, less the late penalty."""
    late = lateness(assignment, submitted_at, due_at)
    return score if late is None else late.adjust(score)


def late_report(assignment: HasLatePolicy, submitted_at: datetime, score: float | None,
                due_at: datetime | None = None) -> dict[str, Any] | None:
    """The reports' "late" field: None when on time, else how late, the penalty and what the score counts for.
    adjusted_score is None while the submission has no score yet. `due_at`: the student's extension, if any."""
    late = lateness(assignment, submitted_at, due_at)
    if late is None:
        return None
    return {
        "days_late": late.days_late,
        "penalty": late.penalty,
        "adjusted_score": late.adjust(score),
        "counts": late.counts,
        "penalty_per_day": late.policy.penalty_per_day,
        "max_late_days": late.policy.max_late_days,
    }
