"""Who a user is to the service. Its own module so the CLI can name the roles without loading the database code."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    student = "student"
    instructor = "instructor"
    admin = "admin"
