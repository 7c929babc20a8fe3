"""Known solutions and starter code (similarity_sources): the built-in reference, and what a course's instructors
register. An upload goes through intake's checks like a student's; its archive is kept in the archive store and
its files under the data dir, and neither is ever served to students.

    reference(session)                                  # the built-in known solution, fingerprinted once
    add_source(session, course, Path("sol.zip"), "2025 official", KNOWN, by="ada@uni.edu")
    boilerplate_hashes(session, course_id)              # what every comparison of the course ignores
"""

from __future__ import annotations

import shutil
from functools import lru_cache
from pathlib import Path

import numpy as np
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ..db.models import Course, SimilaritySource, SimilaritySourceKind
from ..errors import BadRequest, BadUpload, NotFound
from ..intake import ArchiveStore, IntakeError
from ..settings import get_settings
from . import engine
from .sources import REFERENCE_LABEL, digest, package_sources, reference_sources, source_dir, unpacked

KNOWN, BOILERPLATE = SimilaritySourceKind.known.value, SimilaritySourceKind.boilerplate.value
MAX_LABEL = 200


def reference(session: Session) -> SimilaritySource:
    """The built-in reference's row (no course: every course's known solution), made or refreshed when the
    reference's files changed."""
    sources, current = _reference_now()
    # The lowest id: two workers making the row at once leave two, and every later call uses the first.
    row = session.scalars(select(SimilaritySource).where(SimilaritySource.course_id.is_(None),
                                                         SimilaritySource.label == REFERENCE_LABEL)
                          .order_by(SimilaritySource.id).limit(1)).first()
    if row is not None and row.digest == current:
        return row
    document = engine.fingerprint(sources)
    if row is None:
        row = SimilaritySource(course_id=None, kind=KNOWN, label=REFERENCE_LABEL, files=0, digest="")
        session.add(row)
    row.digest, row.files = current, len(document.paths)
    row.fingerprints, row.keys = engine.encode(document), engine.encode_keys(document.keys())
    session.flush()
    return row


@lru_cache(maxsize=1)
def _reference_now() -> tuple[dict[str, str], str]:
    # The installed reference does not change under a running process: read and hashed once.
    sources = reference_sources()
    return sources, digest(sources)


def add_source(session: Session, course: Course, upload: Path, label: str | None, kind: str,
               by: str | None = None) -> SimilaritySource:
    """Register a known solution or starter code from an archive or a folder holding tinytorch/. BadUpload
    (400) names what intake refused."""
    if kind not in (KNOWN, BOILERPLATE):
        raise BadRequest(f"kind must be {KNOWN} or {BOILERPLATE}")
    label = (label or upload.name).strip()
    if not label or len(label) > MAX_LABEL:
        raise BadRequest(f"label must be 1-{MAX_LABEL} characters")
    try:
        with unpacked(upload) as root:
            sources = package_sources(root)
            if not sources:
                raise BadUpload("the package holds no .py files to compare")
            document = engine.fingerprint(sources)
            sha = None if upload.is_dir() else ArchiveStore(get_settings().archives).put(upload)
            row = SimilaritySource(course_id=course.id, kind=kind, label=label, archive_sha256=sha,
                                   digest=digest(sources), files=len(document.paths), created_by=by,
                                   fingerprints=engine.encode(document), keys=engine.encode_keys(document.keys()))
            session.add(row)
            session.flush()
            kept = source_dir(row.id)
            shutil.rmtree(kept, ignore_errors=True)
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(root / "tinytorch", kept / "tinytorch", symlinks=False)
    except IntakeError as error:
        raise BadUpload(f"the {kind} upload was refused: {error}") from error
    return row


def course_sources(session: Session, course_id: int, kind: str | None = None) -> list[SimilaritySource]:
    """The course's sources (the built-in reference first, among known solutions)."""
    built_in = select(func.min(SimilaritySource.id)).where(SimilaritySource.course_id.is_(None)).scalar_subquery()
    query = select(SimilaritySource).where(or_(SimilaritySource.course_id == course_id,
                                               SimilaritySource.id == built_in))
    if kind is not None:
        query = query.where(SimilaritySource.kind == kind)
    rows = session.scalars(query.order_by(SimilaritySource.id)).all()
    return sorted(rows, key=lambda row: (row.course_id is not None, row.id))


def get_source(session: Session, course_id: int, source_id: int) -> SimilaritySource:
    row = session.get(SimilaritySource, source_id)
    if row is None or row.course_id != course_id:
        raise NotFound(f"no known solution or starter code {source_id} in this course")
    return row


def remove_source(session: Session, row: SimilaritySource) -> None:
    shutil.rmtree(source_dir(row.id), ignore_errors=True)
    session.delete(row)
    session.flush()


def boilerplate_hashes(session: Session, course_id: int) -> np.ndarray:
    """Every fingerprint of the course's starter code: removed from both sides of each comparison."""
    blobs = session.scalars(select(SimilaritySource.fingerprints).where(
        SimilaritySource.course_id == course_id, SimilaritySource.kind == BOILERPLATE)).all()
    if not blobs:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.concatenate([engine.decode(blob).hashes for blob in blobs]))


def source_json(row: SimilaritySource) -> dict[str, object]:
    return {"id": row.id, "label": row.label, "kind": row.kind, "files": row.files, "built_in": row.course_id is None,
            "created_at": row.created_at.isoformat()}


def source_text(row: SimilaritySource, path: str) -> str | None:
    """A known solution's file as kept (staff only), the reference's from the repository."""
    if row.course_id is None:
        return reference_sources().get(path)
    return package_sources(source_dir(row.id)).get(path)
