"""``strongroom serve`` and its data directory: one server per data dir (the admin commands still work
beside it), a clear one-line error for a data dir that cannot be created or written, and metrics files
kept off the data volume."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import RunningServer, free_port, start_server
from tests.integration.mounts import remount, tmpfs


def strongroom(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a ``strongroom`` command to completion."""
    return subprocess.run(
        [sys.executable, "-m", "strongroom.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def serve_fails(data_dir: Path, *args: str) -> str:
    """Run a ``strongroom serve`` that must fail; its one line of stderr."""
    result = strongroom("serve", "--port", str(free_port()), "--data-dir", str(data_dir), *args)
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_second_server_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server(data)
    try:
        lock = data / "serve.lock"
        assert stat.S_IMODE(lock.stat().st_mode) == 0o600
        assert json.loads(lock.read_text())["pid"] == server.process.pid
        line = serve_fails(data)
        assert line == (
            f"strongroom serve: error: data dir {data} is in use by another strongroom serve "
            f"(pid {server.process.pid}); only one server may run on a data dir"
        )
        # The admin commands work on the data dir while the server runs, and the server sees the change.
        assert (
            strongroom("iam", "create-user", "--user-name", "beside", "--data-dir", str(data)).returncode == 0
        )
        verified = strongroom("audit", "verify", "--data-dir", str(data))
        assert verified.returncode == 0, verified.stderr
        kms: Any = server.client()
        assert kms.create_key()["KeyMetadata"]["Enabled"] is True  # the first server is untouched
    finally:
        assert server.stop() == 0
    again = start_server(data)  # the lock went with the process
    assert again.stop() == 0


def test_the_lock_goes_with_a_killed_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server(data)
    server.process.kill()
    server.process.wait(timeout=20)
    again = start_server(data)
    assert again.stop() == 0


def metrics_directory(server: RunningServer) -> Path:
    return Path(json.loads((server.data_dir / "serve.lock").read_text())["metrics"])


def test_metrics_files_live_off_the_data_volume_and_go_with_the_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server(data)
    try:
        kms: Any = server.client()
        kms.create_key()
        metrics = metrics_directory(server)
        assert metrics.is_dir() and stat.S_IMODE(metrics.stat().st_mode) == 0o700
        assert metrics.name.startswith("strongroom-metrics-")
        assert os.stat(metrics).st_dev != os.stat(data).st_dev or not Path("/dev/shm").is_dir()
        assert any(metrics.glob("*.db"))  # prometheus_client's files, one set per process
        assert not (data / "metrics").exists()
    finally:
        assert server.stop() == 0
    assert not metrics.exists()
    # A killed server cannot remove its directory: the next start on the data dir does.
    killed = start_server(data)
    left_behind = metrics_directory(killed)
    killed.process.kill()
    killed.process.wait(timeout=20)
    assert left_behind.exists()
    again = start_server(data)
    try:
        assert not left_behind.exists()
    finally:
        assert again.stop() == 0


def test_a_data_dir_under_a_file_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    line = serve_fails(tmp_path / "file" / "data")
    assert line == (
        f"strongroom serve: error: cannot create data dir {tmp_path}/file/data: [Errno 20] Not a directory"
    )


def test_a_read_only_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "1m", read_only=True) as volume:
        assert serve_fails(volume) == (
            f"strongroom serve: error: data dir {volume} is not writable: [Errno 30] Read-only file system"
        )
        assert serve_fails(volume / "data") == (
            f"strongroom serve: error: cannot create data dir {volume}/data: [Errno 30] Read-only file system"
        )


def test_a_used_data_dir_that_became_read_only_is_a_clear_error(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "volume", "8m") as volume:
        data = volume / "data"
        assert start_server(data).stop() == 0
        remount(volume, read_only=True)
        try:
            assert serve_fails(data) == (
                f"strongroom serve: error: data dir {data} is not writable: [Errno 30] Read-only file system"
            )
        finally:
            remount(volume, read_only=False)
