"""Intake: an uploaded archive (or a folder) becomes a clean submission folder, or an IntakeError naming why not.

Nothing in an upload is trusted: not its file name (the format is read from its first bytes), not its
member names (checked for traversal, length, depth, clashes), not its links or member types (refused), not
its declared sizes or counts (bytes and members are counted as they stream, and the first one over a limit
ends the intake). Modes are not trusted either: files are written 0644 and folders 0755, so setuid, setgid,
sticky and execute bits are dropped rather than refused (they are harmless once dropped, and archives made
on some systems carry odd modes for ordinary files).

    submission = unpack_submission(Path("upload.zip"), Path("subs/42"))
    submission.root          # subs/42, holding subs/42/tinytorch/ and nothing else
    check_submission(Path("upload.zip"))                     # same rules, nothing written (the API's check)
    submission.compile_errors    # its .py files that do not compile (file, line, text, message); not a refusal
    ArchiveStore(Path("archives")).put(Path("upload.zip"))   # -> sha256, stored once
"""

from grader.intake.compile_check import CompileProblem
from grader.intake.detect import ArchiveFormat
from grader.intake.errors import (
    ArchiveTooLarge,
    BadName,
    CaseCollision,
    CorruptArchive,
    DuplicateName,
    EncryptedArchive,
    FileTooLarge,
    HardlinkMember,
    IntakeError,
    MultiplePackages,
    NameTooLong,
    NoPackage,
    NotAnArchive,
    OverlappingMembers,
    PathConflict,
    PathTraversal,
    SpecialMember,
    SymlinkMember,
    TooDeep,
    TooManyFiles,
    TotalTooLarge,
    TruncatedArchive,
    UnsupportedFormat,
)
from grader.intake.limits import IntakeLimits
from grader.intake.store import ArchiveStore
from grader.intake.unpack import Listing, Submission, check_submission, unpack_submission

__all__ = [
    "ArchiveFormat",
    "ArchiveStore",
    "ArchiveTooLarge",
    "BadName",
    "CaseCollision",
    "CompileProblem",
    "CorruptArchive",
    "DuplicateName",
    "EncryptedArchive",
    "FileTooLarge",
    "HardlinkMember",
    "IntakeError",
    "IntakeLimits",
    "Listing",
    "MultiplePackages",
    "NameTooLong",
    "NoPackage",
    "NotAnArchive",
    "OverlappingMembers",
    "PathConflict",
    "PathTraversal",
    "SpecialMember",
    "Submission",
    "SymlinkMember",
    "TooDeep",
    "TooManyFiles",
    "TotalTooLarge",
    "TruncatedArchive",
    "UnsupportedFormat",
    "check_submission",
    "unpack_submission",
]
