"""Tar members (plain or gzip-compressed), read in one forward pass with tarfile's stream mode.

We decompress ourselves and hand tarfile a capped stream, because tarfile trusts its headers in ways a
hostile archive can exploit: a pax or GNU long-name header is read whole into memory at whatever size it
declares, and unwanted members are skipped by reading through them. The cap bounds all of that.
"""

from __future__ import annotations

import gzip
import tarfile
import zlib
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import BinaryIO, TypeVar

from grader.intake.detect import HEAD_BYTES, SUPPORTED, is_tar_header
from grader.intake.errors import CorruptArchive, NotAnArchive, TotalTooLarge, TruncatedArchive, quote_name
from grader.intake.limits import IntakeLimits
from grader.intake.members import Member

_T = TypeVar("_T")
_DRAIN_CHUNK = 64 * 1024

# What gzip, zlib and tarfile raise on damaged or cut-off input.
_READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, OSError, ValueError, OverflowError)


def iter_tar_members(fp: BinaryIO, compressed: bool, limits: IntakeLimits) -> Iterator[Member]:
    raw: BinaryIO = gzip.GzipFile(fileobj=fp, mode="rb") if compressed else fp  # type: ignore[assignment]
    stream = _CappedStream(raw, limits.max_tar_stream_bytes)
    head = _guard(lambda: stream.peek(HEAD_BYTES), None)
    if not is_tar_header(head):
        what = "gzip-compressed data that is not a tar archive" if compressed else "not a tar archive"
        raise NotAnArchive(f"the upload is {what}; expected {SUPPORTED}")
    # Closing a TarFile we handed a fileobj to leaves that fileobj open; the caller owns the upload.
    with _guard(lambda: tarfile.open(fileobj=stream, mode="r|", tarinfo=_StrictTarInfo), None) as archive:
        while True:
            # stream.current still names the previous member: next() first reads through its unread data.
            info = _guard(archive.next, None)
            if info is None:
                break
            stream.current = info.name
            yield _member(archive, info)
    if compressed:
        # Reading to the end is what makes gzip check its CRC and length trailer.
        while _guard(lambda: stream.read(_DRAIN_CHUNK), None):
            pass


def _member(archive: tarfile.TarFile, info: tarfile.TarInfo) -> Member:
    name = info.name
    if info.issym():
        return Member(name, "symlink", detail=f"to {quote_name(info.linkname)}")
    if info.islnk():
        return Member(name, "hardlink", detail=f"to {quote_name(info.linkname)}")
    if info.isdir():
        return Member(name, "dir")
    if info.isreg():
        return Member(name, "file", open=lambda: _MemberReader(archive, info))
    if info.ischr():
        return Member(name, "special", detail="a character device")
    if info.isblk():
        return Member(name, "special", detail="a block device")
    if info.isfifo():
        return Member(name, "special", detail="a FIFO")
    # tarfile would treat an unknown type flag as a regular file; we would rather not guess.
    return Member(name, "special", detail=f"an unknown tar member type ({info.type!r})")


def _guard(action: Callable[[], _T], member: str | None) -> _T:
    """Run one read step, turning the libraries' many exceptions into truncated/corrupt errors."""
    try:
        return action()
    except EOFError:
        raise _truncated(member) from None
    except _READ_ERRORS as exc:
        if "unexpected end of data" in str(exc):
            raise _truncated(member) from None
        where = f" in member {quote_name(member)}" if member else ""
        raise CorruptArchive(f"the tar archive is damaged{where} ({exc})", member) from None


def _truncated(member: str | None) -> TruncatedArchive:
    where = f" inside member {quote_name(member)}" if member else ""
    return TruncatedArchive(f"the archive is truncated{where}", member)


class _StrictTarInfo(tarfile.TarInfo):
    """In stream mode tarfile ends the listing quietly at a damaged or cut-off header after the first one,
    which would silently drop the rest of the package; here those are errors."""

    @classmethod
    def fromtarfile(cls, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:
        try:
            return super().fromtarfile(tarfile_)
        except tarfile.TruncatedHeaderError:
            raise TruncatedArchive("the archive is truncated in the middle of a tar header") from None
        except tarfile.InvalidHeaderError as exc:
            raise CorruptArchive(f"the tar archive has a damaged header ({exc})") from None


class _MemberReader:
    """One member's data; errors name the member."""

    def __init__(self, archive: tarfile.TarFile, info: tarfile.TarInfo) -> None:
        self._name = info.name
        self._file = _guard(lambda: archive.extractfile(info), self._name)

    def __enter__(self) -> _MemberReader:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._file is not None:
            self._file.close()

    def read(self, size: int, /) -> bytes:
        if self._file is None:
            return b""
        file = self._file
        return _guard(lambda: file.read(size), self._name)


class _CappedStream:
    """The decompressed tar stream, refused as soon as it grows past `cap` bytes, with a replayable head."""

    def __init__(self, source: BinaryIO, cap: int) -> None:
        self._source = source
        self._cap = cap
        self._head = b""
        self._consumed = 0
        self.current: str | None = None  # the member being read, for the message

    def peek(self, size: int) -> bytes:
        while len(self._head) < size:
            chunk = self._source.read(size - len(self._head))
            if not chunk:
                break
            self._count(len(chunk))
            self._head += chunk
        return self._head

    def read(self, size: int = -1, /) -> bytes:
        if size is None or size < 0:
            # tarfile never asks for "everything"; refuse rather than buffer an unbounded stream.
            raise ValueError("unbounded read from a capped stream")
        if self._head:
            out, self._head = self._head[:size], self._head[size:]
            return out
        out = self._source.read(size)
        self._count(len(out))
        return out

    def _count(self, size: int) -> None:
        self._consumed += size
        if self._consumed > self._cap:
            where = f" (at member {quote_name(self.current)})" if self.current else ""
            raise TotalTooLarge(
                f"the archive decompresses to more than {self._cap} bytes of tar data{where}", self.current
            )
