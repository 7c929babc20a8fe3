"""An assignment's settings, checked: every function returns the value to store or raises BadRequest naming the
field and the problem. Pure (no database), shared by creating and editing an assignment.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ..db.models import ScorePolicy, Visibility
from ..errors import BadRequest
from .late import parse_late_policy
from .zones import as_utc, parse_moment, parse_zone, zone_name

_PRIORITY_KEY = re.compile(r"P([1-9])")
MAX_TITLE = 200


def title(value: str) -> str:
    text = value.strip()
    if not text or len(text) > MAX_TITLE:
        raise BadRequest(f"title must be 1-{MAX_TITLE} characters")
    return text


def suites(value: Iterable[str]) -> list[str]:
    from capstone_tests.registry import SUITES  # the graded suites, to refuse a name no worker could run

    names = [str(name).strip() for name in value]
    unknown = [name for name in names if name not in SUITES]
    if unknown:
        raise BadRequest(f"unknown suites {unknown}; known: {', '.join(SUITES)}")
    if not names:
        raise BadRequest("no suites given")
    return list(dict.fromkeys(names))  # the order given, each once


def score_policy(value: str) -> str:
    if value not in {p.value for p in ScorePolicy}:
        raise BadRequest(f"score_policy must be best or latest, not {value!r}")
    return value


def _test_key(key: str, field: str) -> str:
    from capstone_tests.registry import SUITES

    suite, sep, name = str(key).partition("::")
    if not sep or not name or suite not in SUITES:
        raise BadRequest(f"{field}: {key!r} is not a test named \"<suite>::<test>\" of a known suite")
    return key


def rubric_visibility(value: Mapping[str, str] | None) -> dict[str, str]:
    visibility = dict(value or {})
    bad = {test: v for test, v in visibility.items() if v not in {x.value for x in Visibility}}
    if bad:
        raise BadRequest(f"rubric_visibility must be visible, after_due_date or hidden: {bad}")
    for key in visibility:
        _test_key(key, "rubric_visibility")
    return visibility


def points(value: Mapping[str, Any] | None) -> dict[str, float]:
    """{"P3": 20} (a priority's total) or {"capstone::test_x": 5} (one test): non-negative numbers."""
    checked: dict[str, float] = {}
    for key, amount in dict(value or {}).items():
        if not _PRIORITY_KEY.fullmatch(str(key)):
            _test_key(key, "points")
        if isinstance(amount, bool) or not isinstance(amount, int | float) or not math.isfinite(amount) \
                or amount < 0:
            raise BadRequest(f"points: {key!r} must be a non-negative number, not {amount!r}")
        checked[str(key)] = float(amount)
    return checked


def late_policy(value: Mapping[str, Any] | None) -> dict[str, Any]:
    parse_late_policy(value)  # refused here, not when the dashboard first applies it
    return dict(value or {})


def per_hour(value: int | None) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise BadRequest(f"max_submissions_per_hour must be a whole number of at least 1 (or null), not {value!r}")
    return value


def edition(value: str | None) -> str | None:
    from capstone_tests.editions import EDITIONS  # the editions whose numbering diagnostics can speak

    if value is not None and value not in EDITIONS:
        raise BadRequest(f"unknown edition {value!r}; known: {', '.join(EDITIONS)}")
    return value


def moment(value: datetime | str | None, zone: str | None, what: str) -> datetime | None:
    """A moment to store (UTC), from an aware datetime or ISO text; naive ones are read in `zone`."""
    if value is None:
        return None
    if isinstance(value, str):
        return as_utc(parse_moment(value, zone, what=what))
    if value.tzinfo is None:
        if zone is None:
            raise BadRequest(f"{what} needs a time zone")
        value = value.replace(tzinfo=parse_zone(zone, "due_time_zone"))
    return as_utc(value)


def due(value: datetime | str | None, zone: str | None) -> tuple[datetime | None, str | None]:
    """(due_at in UTC, due_time_zone): the zone as given, else the due date's own offset ("+01:00")."""
    if zone is not None:
        zone = zone.strip()
        parse_zone(zone, "due_time_zone")
    if isinstance(value, str):
        value = parse_moment(value, zone, what="due_at")
    if value is not None and value.tzinfo is not None and zone is None:
        zone = zone_name(value)
    return moment(value, zone, "due_at"), zone
