"""An upload's file name: cleaned once at intake (stored in submissions.filename), and the safe name and content
type its download is sent with. The name is the student's to choose, so it is never trusted: no folders, no
control characters, no quotes, at most MAX_LENGTH characters; the format comes from the bytes (intake.detect).

    clean_filename("../../etc/passwd\\x00.zip")      # "passwd.zip"
    download_name("my work.zip", ArchiveFormat.ZIP, id)  # "my work.zip"; the id with the format's suffix if none
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from ..intake.detect import ArchiveFormat

MAX_LENGTH = 255
MEDIA_TYPES = {ArchiveFormat.ZIP: "application/zip", ArchiveFormat.TAR_GZ: "application/gzip",
               ArchiveFormat.TAR: "application/x-tar", ArchiveFormat.FOLDER: "application/octet-stream"}
SUFFIXES = {ArchiveFormat.ZIP: ".zip", ArchiveFormat.TAR_GZ: ".tar.gz", ArchiveFormat.TAR: ".tar",
            ArchiveFormat.FOLDER: ""}
# Kept: letters and digits of any script, space, and . _ - + ( ) ,  Anything else becomes "_".
UNSAFE = re.compile(r"[^\w .+(),-]", re.UNICODE)


@dataclass(frozen=True)
class StoredUpload:
    path: Path
    filename: str
    media_type: str


def clean_filename(name: str | None) -> str | None:
    """The last path component of what the client sent, in NFC, without control or quoting characters, leading
    dots (no hidden or `..` names) or surrounding spaces; None when nothing is left."""
    if not name:
        return None
    name = unicodedata.normalize("NFC", name).replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")  # controls, format chars, surrogates
    name = UNSAFE.sub("_", name).strip().lstrip(".").strip()
    if len(name) > MAX_LENGTH:
        _, dot, suffix = name.rpartition(".")
        keep = suffix if dot and len(suffix) <= 10 else ""
        name = name[: MAX_LENGTH - len(keep) - 1].rstrip() + "." + keep if keep else name[:MAX_LENGTH]
    return name or None


def content_disposition(name: str) -> str:
    """`attachment` with the name as a quoted ASCII fallback (clean_filename left no quote, backslash or control
    in it) and, for a name beyond ASCII, RFC 5987's filename* as well."""
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_")
    header = f'attachment; filename="{ascii_name}"'
    if ascii_name != name:
        header += f"; filename*=utf-8''{quote(name, safe='')}"
    return header


def download_name(stored: str | None, kind: ArchiveFormat, submission_id: str) -> str:
    """The name a download is saved under: the stored (clean) name when it has the archive's suffix, else the
    submission id with it, so the saved file opens as what it is."""
    suffix = SUFFIXES[kind]
    name = clean_filename(stored)
    if name and (not suffix or name.lower().endswith(suffix) or (kind == ArchiveFormat.TAR_GZ and
                                                                  name.lower().endswith(".tgz"))):
        return name
    return f"submission-{submission_id}{suffix}"
