"""``strongroom serve``: initialize the data dir on first start, then run the KMS endpoint."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click
import orjson

from strongroom.audit.writer import WriterProcess
from strongroom.bootstrap import CONFIG_ENV, DataDirError, build_application, initialize
from strongroom.config import DEFAULT_PORT, DataDir, ServerConfig, default_data_dir, is_loopback, resolve_host
from strongroom.domain.keys import DAY
from strongroom.keystore.file import RootKeyFileError
from strongroom.observability.logs import configure_logging
from strongroom.observability.metrics import MULTIPROCESS_ENV
from strongroom.observability.metrics_files import create_private_directory, remove_private_directory
from strongroom.server.data_dir_lock import DataDirLock, DataDirUnusable, prepare_data_dir
from strongroom.server.pool import WorkerPool, install_stop_handlers

__all__ = ["serve"]


class ServeFailed(click.ClickException):
    """A start that cannot go on, printed as one line: ``strongroom serve: error: <message>``."""

    def show(self, file: Any = None) -> None:
        context = click.get_current_context(silent=True)
        command = context.command_path if context is not None else "strongroom serve"
        click.echo(f"{command}: error: {self.format_message()}", err=True)


def _account_id(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"\d{12}", value):
        raise click.BadParameter("must be 12 digits")
    return value


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory [default: $STRONGROOM_DATA_DIR or ~/.local/share/strongroom].",
)
@click.option(
    "--account-id",
    callback=_account_id,
    default=None,
    help="12-digit AWS account id of this installation (fixed at first start) [default: 111122223333].",
)
@click.option("--dev", is_flag=True, help="Accept any access key and skip signature checks (loopback only).")
@click.option(
    "--workers", type=click.IntRange(1, 256), default=1, show_default=True, help="Worker processes."
)
@click.option(
    "--clock-offset-days",
    type=float,
    default=0.0,
    hidden=True,
    help="--dev only: shift the key-lifecycle clock (to test deletion windows).",
)
@click.option(
    "--attestation-roots",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="PEM file of the root certificates trusted for Nitro Enclaves attestation documents "
    "(Recipient) [default: the AWS Nitro Enclaves root].",
)
@click.option(
    "--no-audit",
    is_flag=True,
    help="Benchmarks only: do not write the audit trail (requests then go unrecorded).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
)
def serve(
    host: str,
    port: int,
    data_dir: Path | None,
    account_id: str | None,
    dev: bool,
    workers: int,
    clock_offset_days: float,
    attestation_roots: Path | None,
    no_audit: bool,
    log_level: str,
) -> None:
    """Run the KMS endpoint (initializing the data dir on first start)."""
    try:
        address = resolve_host(host)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    if dev and not is_loopback(address):
        raise click.UsageError(
            f"--dev accepts any credentials, so it only binds to loopback addresses, not {host!r}"
        )
    _require_free_port(address, port)
    if clock_offset_days and not dev:
        raise click.UsageError("--clock-offset-days is only allowed with --dev")
    configure_logging(log_level)
    directory = DataDir((data_dir or default_data_dir()).resolve())
    config = ServerConfig(
        data_dir=directory.path,
        host=address,
        port=port,
        account_id=account_id,
        dev=dev,
        workers=workers,
        clock_offset_seconds=clock_offset_days * DAY,
        audit=not no_audit,
        log_level=log_level,
        attestation_roots=str(attestation_roots.resolve()) if attestation_roots is not None else None,
    )
    try:
        prepare_data_dir(directory.path)
        lock = DataDirLock.acquire(directory.serve_lock)  # held until this process ends
    except DataDirUnusable as error:
        raise ServeFailed(str(error)) from None
    metrics = _private_metrics_directory(directory, lock)
    try:
        try:
            result = initialize(directory, account_id)
            probe = build_application(config)  # fail here, not in a worker, if anything is wrong
            probe.sweep()
            probe.close()
        except (DataDirError, RootKeyFileError) as error:
            raise ServeFailed(str(error)) from None
        except OSError as error:
            raise ServeFailed(f"cannot open data dir {directory.path}: {error}") from None
        if result.created:
            click.echo(f"Initialized data directory {directory.path} (account {result.account_id}).")
        if result.generated_credentials:
            access_key_id, secret = result.generated_credentials
            click.echo(f"Admin credentials (also saved in {directory.admin_credentials}, mode 0600):")
            click.echo(f"  export AWS_ACCESS_KEY_ID={access_key_id} AWS_SECRET_ACCESS_KEY={secret}")
        _run(config)
    finally:
        remove_private_directory(metrics)
        lock.release()


def _private_metrics_directory(directory: DataDir, lock: DataDirLock) -> Path:
    """A new directory for the workers' metrics files, off the data volume (see
    :mod:`strongroom.observability.metrics_files`), named in the lock file so that the next start can
    remove it if this process is killed; prometheus_client finds it through the environment, which the
    workers and the audit writer inherit."""
    previous = lock.previous.get("metrics")
    if isinstance(previous, str):
        remove_private_directory(previous)  # left behind by a server that was killed
    shutil.rmtree(directory.legacy_metrics, ignore_errors=True)
    try:
        metrics = create_private_directory()
    except OSError as error:
        raise ServeFailed(f"cannot create a directory for the metrics files: {error}") from None
    lock.record(metrics=str(metrics))
    os.environ[MULTIPROCESS_ENV] = str(metrics)
    return metrics


def _endpoint(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _require_free_port(host: str, port: int) -> None:
    """The workers' sockets use SO_REUSEPORT, which would let a second server share a port that is
    already taken (and split requests between two data dirs). A plain bind refuses that."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise ServeFailed(
                f"cannot listen on {_endpoint(host, port)}: {error.strerror or error}"
            ) from None


def _wait_until_answering(host: str, port: int, timeout: float) -> bool:
    """True once the endpoint answers an HTTP request (any answer: a worker is serving)."""
    deadline = time.monotonic() + timeout
    request = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=2.0) as connection:
                connection.sendall(request)
                if connection.recv(12).startswith(b"HTTP/"):
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def _run(config: ServerConfig) -> None:
    endpoint = _endpoint(config.host, config.port)
    try:
        pool = WorkerPool(
            config.host, config.port, config.workers, say=lambda text: click.echo(text, err=True)
        )
    except OSError as error:
        raise ServeFailed(f"cannot listen on {endpoint}: {error.strerror or error}") from None
    install_stop_handlers(pool)
    writer = None
    if config.audit:  # one writer process appends every worker's records (strongroom.audit.writer)
        writer = WriterProcess(DataDir(config.data_dir).audit)
        writer.start()
        config = dataclasses.replace(config, audit_writer=writer.name)
    os.environ[CONFIG_ENV] = orjson.dumps(config.to_json_dict()).decode()

    def announce_when_answering() -> None:
        if not _wait_until_answering(config.host, config.port, timeout=60.0):
            click.echo(f"Strongroom did not answer on {endpoint} within 60 s.", err=True)
            return
        mode = " (dev mode: signatures not checked)" if config.dev else ""
        click.echo(f"Strongroom is listening on {endpoint}{mode} with {config.workers} worker(s).")
        click.echo(f"  aws kms list-keys --endpoint-url {endpoint} --region us-east-1")
        sys.stdout.flush()

    try:
        pool.start()
        threading.Thread(target=announce_when_answering, daemon=True).start()
        pool.run_until_stopped()
    finally:
        pool.stop()  # the workers first: their last requests still need the audit writer
        if writer is not None:
            writer.stop()
