"""Every way an upload can be refused: one `IntakeError` subclass per reason.

`code` is a stable identifier (metrics labels, API error bodies, tests); the message is for the student and
names the offending member. Member names come from the archive, so they are always passed through
`quote_name` before they reach a message: a name may hold terminal escapes, newlines or megabytes of text.
"""

from __future__ import annotations

from typing import ClassVar

_MAX_QUOTED = 160


def quote_name(name: str) -> str:
    """Render an untrusted name for a message: quoted, control characters escaped, long names shortened."""
    text = name if len(name) <= _MAX_QUOTED else name[: _MAX_QUOTED - 3] + "..."
    # repr() escapes control characters, lone surrogates and quotes; drop its own outer quotes so we can
    # always wrap in single quotes, whichever quote style repr picked.
    inner = repr(text)[1:-1]
    return f"'{inner}'"


class IntakeError(Exception):
    """An upload that cannot become a submission folder. `member` is the offending archive member, if any."""

    code: ClassVar[str] = "intake_error"

    def __init__(self, message: str, member: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.member = member

    def __str__(self) -> str:
        return self.message


# --- the upload as a whole -------------------------------------------------------------------------------


class NotAnArchive(IntakeError):
    code = "not_an_archive"


class UnsupportedFormat(IntakeError):
    """A recognised container we do not unpack (bzip2, xz, 7z, rar, or a zip compression method)."""

    code = "unsupported_format"


class ArchiveTooLarge(IntakeError):
    """The compressed upload itself is over `max_archive_bytes`."""

    code = "archive_too_large"


class TruncatedArchive(IntakeError):
    code = "truncated"


class CorruptArchive(IntakeError):
    code = "corrupt"


class OverlappingMembers(CorruptArchive):
    """Zip entries that share compressed data: the trick behind non-recursive zip bombs."""

    code = "overlapping_members"


class EncryptedArchive(IntakeError):
    code = "encrypted"


# --- one member's name ---------------------------------------------------------------------------------------


class PathTraversal(IntakeError):
    """`..`, an absolute path, a drive letter or a backslash: a name that could land outside the folder."""

    code = "path_traversal"


class BadName(IntakeError):
    """Control characters, NUL, bytes that are not UTF-8, or a file with an empty name."""

    code = "bad_name"


class NameTooLong(IntakeError):
    code = "name_too_long"


class TooDeep(IntakeError):
    code = "too_deep"


class DuplicateName(IntakeError):
    code = "duplicate_name"


class CaseCollision(IntakeError):
    """Two names equal once case (and Unicode normalisation) is ignored: they would clash on macOS/Windows."""

    code = "case_collision"


class PathConflict(IntakeError):
    """The same path is both a file and a folder."""

    code = "path_conflict"


# --- one member's type --------------------------------------------------------------------------------------


class SymlinkMember(IntakeError):
    code = "symlink"


class HardlinkMember(IntakeError):
    code = "hardlink"


class SpecialMember(IntakeError):
    """Devices, FIFOs, sockets and any member type we do not know."""

    code = "special_file"


# --- counts and sizes, decided while streaming ---------------------------------------------------------------


class TooManyFiles(IntakeError):
    code = "too_many_files"


class FileTooLarge(IntakeError):
    code = "file_too_large"


class TotalTooLarge(IntakeError):
    code = "total_too_large"


# --- the package ----------------------------------------------------------------------------------------------


class NoPackage(IntakeError):
    code = "no_package"


class MultiplePackages(IntakeError):
    code = "multiple_packages"


ALL_ERRORS: tuple[type[IntakeError], ...] = (
    NotAnArchive,
    UnsupportedFormat,
    ArchiveTooLarge,
    TruncatedArchive,
    CorruptArchive,
    OverlappingMembers,
    EncryptedArchive,
    PathTraversal,
    BadName,
    NameTooLong,
    TooDeep,
    DuplicateName,
    CaseCollision,
    PathConflict,
    SymlinkMember,
    HardlinkMember,
    SpecialMember,
    TooManyFiles,
    FileTooLarge,
    TotalTooLarge,
    NoPackage,
    MultiplePackages,
)
