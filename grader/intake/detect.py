"""Which kind of archive an upload is, decided from its first bytes: the file name is the student's to choose."""

from __future__ import annotations

from enum import StrEnum

from grader.intake.errors import NotAnArchive, UnsupportedFormat

# Enough to see the ustar magic at offset 257 of the first tar header.
HEAD_BYTES = 512


class ArchiveFormat(StrEnum):
    ZIP = "zip"
    TAR_GZ = "tar.gz"
    TAR = "tar"
    FOLDER = "folder"


# Containers we recognise but do not unpack, so the message can say what the upload is.
_UNSUPPORTED: tuple[tuple[bytes, str], ...] = (
    (b"BZh", "a bzip2-compressed file"),
    (b"\xfd7zXZ\x00", "an xz-compressed file"),
    (b"\x28\xb5\x2f\xfd", "a zstd-compressed file"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
)

SUPPORTED = "a .zip, .tar.gz/.tgz or .tar archive"


def is_tar_header(block: bytes) -> bool:
    """POSIX ("ustar\\0") and GNU ("ustar ") headers both carry "ustar" at offset 257."""
    return len(block) >= 262 and block[257:262] == b"ustar"


def detect_format(head: bytes) -> ArchiveFormat:
    """Classify the first `HEAD_BYTES` of an upload, or raise naming what it looks like instead.

    A gzip stream is reported as TAR_GZ here; the tar reader confirms a tar is inside once decompressed.
    """
    if not head:
        raise NotAnArchive(f"the upload is empty; expected {SUPPORTED}")
    # Local file header, or the end record alone (an empty zip). A zip with a stub in front of it (a
    # self-extractor) is refused: nothing a student's tools make looks like that.
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return ArchiveFormat.ZIP
    if head.startswith(b"\x1f\x8b"):
        return ArchiveFormat.TAR_GZ
    if is_tar_header(head):
        return ArchiveFormat.TAR
    for magic, what in _UNSUPPORTED:
        if head.startswith(magic):
            raise UnsupportedFormat(f"the upload is {what}; please upload {SUPPORTED}")
    raise NotAnArchive(f"the upload is not {SUPPORTED} (its first bytes match none of them)")
