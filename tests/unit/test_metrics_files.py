"""Metrics files that a full file system cannot turn into a SIGBUS, metrics that switch themselves off
rather than fail a request, and the disk-space check behind ``/readyz``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from strongroom.observability.disk import DiskSpace
from strongroom.observability.metrics_files import (
    PRIVATE_PREFIX,
    PreallocatedMmapedDict,
    create_private_directory,
    remove_private_directory,
)
from tests.integration.mounts import fill, tmpfs


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter: a SIGBUS there is a return code, not the end of the tests."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


def test_values_grow_and_read_back(tmp_path: Path) -> None:
    values = PreallocatedMmapedDict(str(tmp_path / "counter_1.db"))
    for n in range(3000):  # past the first 64 KiB: the file is grown (and allocated) several times
        values.write_value(f"key-{n}", float(n), 0.0)
    values.close()
    assert os.stat(tmp_path / "counter_1.db").st_blocks * 512 >= os.stat(tmp_path / "counter_1.db").st_size
    entries = PreallocatedMmapedDict.read_all_values_from_file(str(tmp_path / "counter_1.db"))
    read = {entry[0]: entry[1] for entry in entries}
    assert len(read) == 3000 and read["key-2999"] == 2999.0


def test_a_full_file_system_is_an_error_not_a_sigbus(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "full", "1m") as volume:
        fill(volume / "filler")
        probe = """
            import sys
            from prometheus_client.mmap_dict import MmapedDict
            from strongroom.observability.metrics_files import PreallocatedMmapedDict
            kind = {"plain": MmapedDict, "preallocated": PreallocatedMmapedDict}[sys.argv[1]]
            try:
                kind(sys.argv[2]).write_value("k", 1.0, 0.0)
            except OSError as error:
                print("OSError", error.errno)
        """
        plain = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(probe), "plain", str(volume / "plain.db")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert plain.returncode == -signal.SIGBUS  # what prometheus_client alone does: the process dies
        preallocated = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(probe), "preallocated", str(volume / "ours.db")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (preallocated.returncode, preallocated.stdout.strip()) == (0, "OSError 28")


def test_metrics_switch_off_once_their_files_cannot_be_written(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "full", "1m") as volume:
        script = """
            from strongroom.observability.metrics import Metrics, audit_flush_histograms
            from strongroom.service.cache_stats import CacheStats
            metrics = Metrics(CacheStats(), lambda: {"Enabled": 1})
            for n in range(5000):  # the files fill the little file system, then cannot grow
                metrics.observe_request(f"Operation{n}", "OK", 0.001)
            metrics.sync_caches()
            audit_flush_histograms()(3, 0.001)
            print(b"strongroom_keys" in metrics.exposition())
        """
        result = run_python(script, PROMETHEUS_MULTIPROC_DIR=str(volume))
        assert (result.returncode, result.stdout.strip()) == (0, "True"), result.stderr
        assert result.stderr.count("metrics are off in this process") == 1, result.stderr


def test_private_directory(tmp_path: Path) -> None:
    directory = create_private_directory()
    try:
        assert directory.name.startswith(PRIVATE_PREFIX)
        assert (directory.stat().st_mode & 0o777) == 0o700
        if Path("/dev/shm").is_dir() and os.access("/dev/shm", os.W_OK):
            assert directory.parent == Path("/dev/shm")
    finally:
        remove_private_directory(directory)
    assert not directory.exists()
    other = tmp_path / "not-ours"
    other.mkdir()
    remove_private_directory(other)  # only directories it made itself
    assert other.exists()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_disk_space_is_asked_at_most_once_per_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    free = {"blocks": 10_000}

    def statvfs(path: str | Path) -> os.statvfs_result:
        asked.append(str(path))
        return os.statvfs_result((4096, 4096, 100_000, free["blocks"], free["blocks"], 0, 0, 0, 0, 255))

    monkeypatch.setattr(os, "statvfs", statvfs)
    clock = Clock()
    disk = DiskSpace([tmp_path], clock=clock)
    assert disk.is_full() is False and len(asked) == 1
    free["blocks"] = 10  # 40 KiB left
    assert disk.is_full() is False and len(asked) == 1  # within the interval: the last answer
    clock.now = 1.0
    assert disk.is_full() is True and len(asked) == 2
    free["blocks"] = 10_000
    assert disk.check_now() is False and len(asked) == 3  # /readyz asks now


def test_disk_space_of_a_real_file_system(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "volume", "2m") as volume:
        disk = DiskSpace([volume / "audit"], interval=0.0)  # not created yet: its file system counts
        assert disk.is_full() is False
        fill(volume / "filler")
        assert disk.is_full() is True
        (volume / "filler").unlink()
        assert disk.is_full() is False
    with tmpfs(tmp_path / "ro", "1m", read_only=True) as read_only:
        assert DiskSpace([read_only]).is_full() is True
