"""Moments with a zone: an assignment's due date is stored in UTC and shown back in the zone it was given in.

A zone is an IANA name ("Europe/Zurich") or a fixed offset ("+01:00"); "UTC" and "Z" are UTC.

    zone = parse_zone("Europe/Zurich")                     # a tzinfo, or BadRequest naming the problem
    moment = parse_moment("2027-01-15T23:59:00+01:00")    # aware datetime, or BadRequest (a zone is required)
    in_zone(stored_utc, "+01:00").isoformat()              # "2027-01-15T23:59:00+01:00"
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import BadRequest

_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")
# RFC 9557's suffix: "2027-01-15T23:59:00+01:00[Europe/Zurich]" names the zone beside the offset.
_BRACKETED = re.compile(r"(.*)\[([^\]]{1,64})\]")
_MAX_OFFSET = timedelta(hours=14)  # the widest offset in use (Kiribati)


def parse_zone(name: str, what: str = "time zone") -> tzinfo:
    """The zone called `name`: an IANA name or a "+HH:MM" offset. BadRequest (naming `what`) for anything else."""
    text = name.strip()
    if text.upper() in ("UTC", "Z"):
        return UTC
    offset = _OFFSET.fullmatch(text)
    if offset:
        sign, hours, minutes = offset.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        if int(minutes) >= 60 or delta > _MAX_OFFSET:
            raise BadRequest(f"{what} {name!r}: the offset is out of range (-14:00 to +14:00)")
        return timezone(-delta if sign == "-" else delta)
    try:
        if not text or text.startswith("/") or ".." in text:
            raise ValueError
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(f"{what} {name!r} is no known time zone: use an IANA name like Europe/Zurich or an "
                         "offset like +01:00") from None


def zone_name(moment: datetime) -> str:
    """How an aware datetime's own offset is written as a zone: "+01:00", or "UTC"."""
    offset = moment.utcoffset() or timedelta(0)
    if offset == timedelta(0):
        return "UTC"
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def parse_moment(text: str, zone: str | None = None, *, what: str = "time") -> datetime:
    """An ISO 8601 date-time with a zone (its offset, or a bracketed IANA name), or a naive one read in `zone`.
    BadRequest naming `what` when it is malformed or has no zone at all."""
    raw = text.strip()
    bracketed = _BRACKETED.fullmatch(raw)
    if bracketed:
        raw, zone = bracketed.group(1), bracketed.group(2)
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{what} {text!r} is not an ISO 8601 date-time like 2027-01-15T23:59:00+01:00") from None
    if moment.tzinfo is None:
        if zone is None:
            raise BadRequest(f"{what} {text!r} has no time zone: add an offset (2027-01-15T23:59:00+01:00) "
                             "or give due_time_zone")
        return moment.replace(tzinfo=parse_zone(zone, "due_time_zone"))
    return moment


def as_utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything this service stores is UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def in_zone(moment: datetime | None, zone: str | None) -> datetime | None:
    """A stored (UTC) moment shown in `zone` (None: UTC)."""
    if moment is None:
        return None
    return as_utc(moment).astimezone(parse_zone(zone) if zone else UTC)


def iso_in_zone(moment: datetime | None, zone: str | None) -> str | None:
    shown = in_zone(moment, zone)
    return None if shown is None else shown.isoformat()
