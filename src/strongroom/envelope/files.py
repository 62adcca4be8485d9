"""Files: encrypt or decrypt one file into another, atomically.

The output is written to a hidden temporary file beside the destination (mode 0600 while it is written)
and renamed over the destination only when the whole message has been written or has verified, so a
failure (wrong key, tampering, truncation, a full disk, an interrupt) leaves no partial output behind.
That is also why file decryption may write frames before a signed message's signature is checked: the
temporary file is deleted, never renamed, when the check fails.

A destination that is not a regular file (``/dev/null``, a FIFO, a terminal) is written in place: it
cannot be replaced, and must not be. Decryption into one releases nothing unverified, as into a pipe.
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

__all__ = ["atomic_output", "decrypt_file", "encrypt_file", "is_special", "open_output"]

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


def is_special(path: Path) -> bool:
    """Whether ``path`` exists and is neither a regular file nor a directory (a device, FIFO, socket)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


@contextmanager
def open_output(path: Path, mode: int) -> Iterator[tuple[BinaryIO, bool]]:
    """The output for ``path`` and whether it is atomic: a regular file appears only if the block
    completes; a special file (see :func:`is_special`) is written in place."""
    if is_special(path):
        with open(path, "wb", buffering=_BUFFER) as out:
            yield out, False
        return
    with atomic_output(path, mode) as out:
        yield out, True


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
        with open_output(Path(destination), 0o666 & ~_current_umask()) as (out, _):
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
    options = options or DecryptOptions()
    with (
        open(source, "rb", buffering=_BUFFER) as message,
        open_output(Path(destination), PLAINTEXT_MODE) as (out, atomic),
    ):
        if atomic:  # frames may be written before the signature is checked: the file is not there yet
            options = dataclasses.replace(options, release_unverified=True)
        return decrypt_stream(kms, message, out, options, progress=progress)
