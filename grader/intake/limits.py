"""The bounds every upload is held to. A TinyTorch package is ~50 small .py files, so these are generous."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass(frozen=True)
class IntakeLimits:
    # Every member counts, junk included: the limit bounds the work an archive can ask of us, and an
    # archive's own count (zip end record, tar headers) is never trusted, only what we have walked.
    max_files: int = 2000
    # Uncompressed bytes actually produced while streaming, summed over the members we write.
    max_total_bytes: int = 50 * MiB
    max_file_bytes: int = 10 * MiB
    # Bytes of UTF-8 per path component (the usual file-system limit) and for the whole member name.
    max_name_length: int = 255
    max_path_length: int = 1024
    # Path components in one member name ("a/b/c.py" is 3).
    max_depth: int = 20
    # The upload as stored, before decompression.
    max_archive_bytes: int = 20 * MiB

    def __post_init__(self) -> None:
        for name in (
            "max_files",
            "max_total_bytes",
            "max_file_bytes",
            "max_name_length",
            "max_path_length",
            "max_depth",
            "max_archive_bytes",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"IntakeLimits.{name} must be positive")

    @property
    def max_tar_stream_bytes(self) -> int:
        """Cap on a tar's decompressed stream, headers and skipped junk included.

        tarfile reads some headers (pax, GNU long names) whole into memory and skips unwanted members by
        reading through them, so the stream itself needs a bound, not only the members we write: the
        budget's bytes, plus room for a few header blocks per member, plus tar's record padding.
        """
        return self.max_total_bytes + self.max_files * 4096 + 64 * 1024
