"""Small tmpfs mounts for tests of full and read-only file systems (root only: skipped elsewhere)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

__all__ = ["fill", "remount", "tmpfs"]


@contextmanager
def tmpfs(path: Path, size: str = "8m", *, read_only: bool = False) -> Iterator[Path]:
    """Mount a tmpfs of ``size`` at ``path`` (created) for the block; always unmounted after it. Skips
    the test, with the reason, where mounting is not permitted."""
    if shutil.which("mount") is None or shutil.which("umount") is None:
        pytest.skip("mount/umount are not installed")
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size},mode=0700" + (",ro" if read_only else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)  # still busy: detach it


def remount(path: Path, *, read_only: bool) -> None:
    """Make the tmpfs at ``path`` read-only, or writable again."""
    option = "remount,ro" if read_only else "remount,rw"
    subprocess.run(["mount", "-o", option, str(path)], check=True, capture_output=True)


def fill(path: Path) -> int:
    """Write zeros to the file ``path`` until its file system is full; the number of bytes written."""
    written = 0
    with open(path, "wb", buffering=0) as handle:
        for chunk_size in (1 << 20, 1 << 12, 1):  # big chunks first, then what is left to the byte
            chunk = bytes(chunk_size)
            while True:
                try:
                    count = handle.write(chunk)
                except OSError:
                    break
                if not count:
                    break
                written += count
    return written
