"""Zip members, decompressed by us rather than by `zipfile.ZipFile.open`.

`zipfile` is used only to parse the central directory (the listing). It would also decompress, but it
stops at the size the header declares: a lying header would then be "corrupt" at best, and the size we
count would be the archive's word rather than ours. Here the bytes are counted as zlib produces them, the
declared size and CRC are only compared at the end, and nothing in a header decides how much we read.
"""

from __future__ import annotations

import bz2
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from itertools import pairwise
from types import TracebackType
from typing import BinaryIO

from grader.intake.errors import (
    CorruptArchive,
    EncryptedArchive,
    OverlappingMembers,
    TooManyFiles,
    TruncatedArchive,
    UnsupportedFormat,
    quote_name,
)
from grader.intake.limits import IntakeLimits
from grader.intake.members import Member

_LOCAL_HEADER = struct.Struct("<4sHHHHHLLLHH")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_CENTRAL_SIGNATURE = b"PK\x01\x02"
_END = struct.Struct("<4s4H2LH")
_END_SIGNATURE = b"PK\x05\x06"
_END64_LOCATOR = struct.Struct("<4sLQL")
_END64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_END64 = struct.Struct("<4sQ2H2L4Q")
_END64_SIGNATURE = b"PK\x06\x06"
_READ_CHUNK = 64 * 1024

_STORED, _DEFLATED, _BZIP2 = 0, 8, 12
_METHOD_NAMES = {9: "Deflate64", 14: "LZMA", 93: "Zstandard", 95: "XZ", 98: "PPMd"}
_AES = 99
_FLAG_ENCRYPTED = 0x1
_FLAG_UTF8 = 0x800

# zipfile and struct raise all of these on malformed central directories.
_PARSE_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    struct.error,
    ValueError,
    OverflowError,
    NotImplementedError,
    EOFError,
    OSError,
)


def iter_zip_members(fp: BinaryIO, archive_size: int, limits: IntakeLimits) -> Iterator[Member]:
    _refuse_floods(fp, archive_size, limits.max_files)
    try:
        infos = zipfile.ZipFile(fp).infolist()
    except zipfile.BadZipFile as exc:
        if "not a zip file" in str(exc):
            # It starts like a zip (detect checked) but has no end record: the tail is missing.
            raise TruncatedArchive("the zip file is truncated: its central directory (at the end) is missing") from None
        raise CorruptArchive(f"the zip file's central directory is damaged ({exc})") from None
    except _PARSE_ERRORS as exc:
        raise CorruptArchive(f"the zip file's central directory is damaged ({exc})") from None
    if len(infos) > limits.max_files:
        # The listing is parsed, so this count is real: refuse before touching any member's data.
        raise _too_many(infos[limits.max_files].orig_filename, limits.max_files)
    offsets = [_data_offset(fp, info, archive_size) for info in infos]
    _refuse_overlaps(infos, offsets)
    for info, offset in zip(infos, offsets, strict=True):
        yield _member(fp, info, offset)


def _refuse_floods(fp: BinaryIO, archive_size: int, limit: int) -> None:
    """Walk the central directory's entry headers, without building them, until one more than `limit`.

    zipfile builds a ZipInfo for every entry before we could count them: 20 MB of entries is ~400,000
    objects and seconds of work. The end record's own count is not trusted (it is only 16 bits anyway); this
    walk counts real headers and raises at the first one over the limit. Anything it cannot follow is left
    to zipfile to diagnose.
    """
    tail_size = min(archive_size, _END.size + 0xFFFF)  # the end record, then at most a 64 KiB comment
    fp.seek(archive_size - tail_size)
    tail = fp.read(tail_size)
    at = tail.rfind(_END_SIGNATURE)
    if at < 0 or at + _END.size > len(tail):
        return
    end_position = archive_size - tail_size + at
    directory_size = _END.unpack_from(tail, at)[5]
    locator_at = at - _END64_LOCATOR.size
    if locator_at >= 0 and tail[locator_at : locator_at + 4] == _END64_LOCATOR_SIGNATURE:
        # ZIP64: the real directory size is in the zip64 end record, which sits just before the locator
        end_position -= _END64_LOCATOR.size + _END64.size
        fp.seek(max(end_position, 0))
        record = fp.read(_END64.size)
        if len(record) < _END64.size or record[:4] != _END64_SIGNATURE:
            return
        directory_size = _END64.unpack(record)[8]
    start = end_position - directory_size
    if start < 0:
        return
    fp.seek(start)
    directory = fp.read(directory_size)
    offset = count = 0
    while offset + _CENTRAL.size <= len(directory) and directory[offset : offset + 4] == _CENTRAL_SIGNATURE:
        fields = _CENTRAL.unpack_from(directory, offset)
        flags, name_len, extra_len, comment_len = fields[5], fields[12], fields[13], fields[14]
        count += 1
        if count > limit:
            raw_name = directory[offset + _CENTRAL.size : offset + _CENTRAL.size + name_len]
            raise _too_many(raw_name.decode("utf-8" if flags & _FLAG_UTF8 else "cp437", "replace"), limit)
        offset += _CENTRAL.size + name_len + extra_len + comment_len


def _too_many(name: str, limit: int) -> TooManyFiles:
    return TooManyFiles(
        f"the archive has more than {limit} members (the limit); member {quote_name(name)} is number {limit + 1}",
        name,
    )


def _data_offset(fp: BinaryIO, info: zipfile.ZipInfo, archive_size: int) -> int:
    """Where a member's compressed bytes start, after checking its local header agrees with the listing."""
    name = info.orig_filename
    quoted = quote_name(name)
    fp.seek(info.header_offset)
    head = fp.read(_LOCAL_HEADER.size)
    if len(head) < _LOCAL_HEADER.size:
        raise TruncatedArchive(f"the zip file is truncated inside member {quoted}", name)
    signature, _, flags, _, _, _, _, _, _, name_len, extra_len = _LOCAL_HEADER.unpack(head)
    if signature != _LOCAL_SIGNATURE:
        raise CorruptArchive(f"member {quoted}: no local header where the central directory points", name)
    raw_name = fp.read(name_len)
    try:
        local_name = raw_name.decode("utf-8" if flags & _FLAG_UTF8 else "cp437")
    except UnicodeDecodeError:
        local_name = None
    # Two names for one member is how a zip shows one thing to a listing tool and unpacks another.
    if local_name != name:
        raise CorruptArchive(f"member {quoted} has a different name in its local header", name)
    offset = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
    if offset + info.compress_size > archive_size:
        raise TruncatedArchive(f"the zip file is truncated inside member {quoted}", name)
    return offset


def _refuse_overlaps(infos: list[zipfile.ZipInfo], offsets: list[int]) -> None:
    spans = sorted(
        (info.header_offset, offset + info.compress_size, info.orig_filename)
        for info, offset in zip(infos, offsets, strict=True)
    )
    for (_, end, first), (start, _, second) in pairwise(spans):
        if start < end:
            raise OverlappingMembers(
                f"members {quote_name(first)} and {quote_name(second)} share compressed data "
                "(overlapping zip entries, a zip-bomb technique)",
                second,
            )


def _member(fp: BinaryIO, info: zipfile.ZipInfo, offset: int) -> Member:
    name = info.orig_filename
    mode = info.external_attr >> 16  # Unix mode when the zip was made on a Unix; 0 from DOS/Windows tools
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFLNK:
        return Member(name, "symlink")
    if kind == stat.S_IFDIR or name.endswith("/"):
        return Member(name, "dir")
    if kind not in (0, stat.S_IFREG):
        return Member(name, "special", detail=_describe_mode(kind))
    return Member(name, "file", open=lambda: _ZipMemberStream(fp, info, offset))


def _describe_mode(kind: int) -> str:
    names = {
        stat.S_IFCHR: "a character device",
        stat.S_IFBLK: "a block device",
        stat.S_IFIFO: "a FIFO",
        stat.S_IFSOCK: "a socket",
    }
    return names.get(kind, f"an unknown file type (mode {kind:#o})")


class _ZipMemberStream:
    """Decompressed bytes of one member, produced and counted as zlib/bz2 emit them."""

    def __init__(self, fp: BinaryIO, info: zipfile.ZipInfo, offset: int) -> None:
        self._name = info.orig_filename
        quoted = quote_name(self._name)
        if info.flag_bits & _FLAG_ENCRYPTED or info.compress_type == _AES:
            raise EncryptedArchive(
                f"member {quoted} is encrypted; please upload an archive without a password", self._name
            )
        method = info.compress_type
        self._inflate = None
        self._bunzip: bz2.BZ2Decompressor | None = None
        if method == _DEFLATED:
            self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate: zip has no zlib header
        elif method == _BZIP2:
            self._bunzip = bz2.BZ2Decompressor()
        elif method != _STORED:
            what = _METHOD_NAMES.get(method, f"method {method}")
            raise UnsupportedFormat(
                f"member {quoted} is compressed with {what}; please re-create the zip with the standard "
                "(Deflate) compression",
                self._name,
            )
        self._info = info
        self._fp = fp
        self._position = offset
        self._input_left = info.compress_size
        self._pending = b""  # compressed input zlib has not consumed yet
        self._size = 0
        self._crc = 0
        self._ended = False  # the compressed stream is complete
        self._done = False  # ... and checked

    def __enter__(self) -> _ZipMemberStream:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        return None

    def read(self, size: int, /) -> bytes:
        while not self._done:
            try:
                out = self._next(size)
            except (zlib.error, OSError, EOFError, ValueError) as exc:
                raise CorruptArchive(
                    f"member {quote_name(self._name)}: its compressed data is damaged ({exc})", self._name
                ) from None
            self._size += len(out)
            self._crc = zlib.crc32(out, self._crc)
            if self._ended:
                self._done = True
                self._verify()
            if out:
                return out
        return b""

    def _next(self, size: int) -> bytes:
        """At most `size` more bytes, setting `_ended` once the compressed stream is complete."""
        if self._inflate is not None:
            data = self._pending or self._take_input()
            out = self._inflate.decompress(data, size)
            self._pending = self._inflate.unconsumed_tail
            if self._inflate.eof:
                self._ended = True
            elif not out and not data:
                self._ends_early()
            return out
        if self._bunzip is not None:
            data = self._take_input() if self._bunzip.needs_input else b""
            if not data and self._bunzip.needs_input:
                self._ends_early()
            out = self._bunzip.decompress(data, size)
            self._ended = self._bunzip.eof
            return out
        out = self._take_input(size)
        self._ended = not out
        return out

    def _take_input(self, size: int = _READ_CHUNK) -> bytes:
        want = min(size, self._input_left)
        if want <= 0:
            return b""
        self._fp.seek(self._position)
        data = self._fp.read(want)
        if not data:
            raise TruncatedArchive(f"the zip file is truncated inside member {quote_name(self._name)}", self._name)
        self._position += len(data)
        self._input_left -= len(data)
        return data

    def _ends_early(self) -> None:
        raise CorruptArchive(
            f"member {quote_name(self._name)}: its compressed data ends before the end of the stream", self._name
        )

    def _verify(self) -> None:
        """Only now are the archive's claims compared with what we produced."""
        quoted = quote_name(self._name)
        if self._size != self._info.file_size:
            raise CorruptArchive(
                f"member {quoted} decompresses to {self._size} bytes but the archive says {self._info.file_size}",
                self._name,
            )
        if self._crc != self._info.CRC:
            raise CorruptArchive(f"member {quoted} fails its CRC check", self._name)
