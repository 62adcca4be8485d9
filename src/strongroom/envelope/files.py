"""Files: encrypt or decrypt one file into another, atomically.

The output is written to a hidden temporary file beside the destination (mode 0600 while it is written)
and renamed over the destination only when the whole message has been written or has verified, so a
failure (wrong key, tampering, truncation, a full disk, an interrupt) leaves no partial output behind.
That is also why file decryption may write frames before a signed message's signature is checked: the
temporary file is deleted, never renamed, when the check fails.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, BinaryIO, Final

from strongroom.envelope.cache import DataKeyCache
from strongroom.envelope.message import Header
from strongroom.envelope.stream import (
    DEFAULT_FRAME_LENGTH,
    DecryptOptions,
    Progress,
    decrypt_stream,
    encrypt_stream,
)

__all__ = ["atomic_output", "decrypt_file", "encrypt_file"]

_BUFFER: Final = 1024 * 1024
PLAINTEXT_MODE: Final = 0o600  # decrypted files are secrets


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_output(path: Path, mode: int) -> Iterator[BinaryIO]:
    """A binary file that appears at ``path`` (with ``mode``) only if the block completes."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb", buffering=_BUFFER) as out:
            yield out
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _regular_file_size(handle: BinaryIO) -> int | None:
    info = os.fstat(handle.fileno())
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def encrypt_file(
    kms: Any,
    key_ids: Sequence[str],
    source: Path,
    destination: Path,
    encryption_context: Mapping[str, str] | None = None,
    *,
    frame_length: int = DEFAULT_FRAME_LENGTH,
    signed: bool = True,
    cache: DataKeyCache | None = None,
    progress: Progress | None = None,
) -> Header:
    """Encrypt ``source`` into ``destination`` (mode 0666 less the umask)."""
    with open(source, "rb", buffering=_BUFFER) as plaintext:
        size = _regular_file_size(plaintext)
        with atomic_output(Path(destination), 0o666 & ~_current_umask()) as out:
            return encrypt_stream(
                kms,
                key_ids,
                plaintext,
                out,
                encryption_context,
                frame_length=frame_length,
                signed=signed,
                cache=cache,
                plaintext_length=size,
                progress=progress,
            )


def decrypt_file(
    kms: Any,
    source: Path,
    destination: Path,
    options: DecryptOptions | None = None,
    *,
    progress: Progress | None = None,
) -> Header:
    """Decrypt ``source`` into ``destination`` (mode 0600), which appears only once everything verified."""
    options = dataclasses.replace(options or DecryptOptions(), release_unverified=True)
    with (
        open(source, "rb", buffering=_BUFFER) as message,
        atomic_output(Path(destination), PLAINTEXT_MODE) as out,
    ):
        return decrypt_stream(kms, message, out, options, progress=progress)
