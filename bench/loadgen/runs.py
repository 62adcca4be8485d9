"""The two ways to run the benchmark: against servers it starts itself, or against ``--endpoint``.

Each run warms up, then measures; the record of the measured phase (or of a failed warm-up) is handed to
``emit``.  The functions return the process exit code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .common import EXIT_OK, EXIT_RUN_FAILED, EXIT_SETUP_FAILED, SetupError, log
from .driver import LoadGenerator, PhaseResult
from .procstat import read_proc_stat
from .report import MachineInfo, Record, RunInfo, summarise
from .server import SpawnedServer, admin_account, iam_user_account
from .signing import Account, RequestPool, Target, create_symmetric_key

Emit = Callable[[Record], None]


@dataclass(frozen=True)
class Settings:
    """Parsed command-line settings."""

    requests: int
    warmup: int
    concurrency: int
    workers: list[int]
    presign: int
    region: str
    endpoint: str | None  # set: --endpoint mode
    account: Account | None  # --endpoint mode: credentials from the command line or environment
    key_id: str | None
    server_pid: int | None
    json_output: bool
    startup_timeout: float
    stall_timeout: float
    server_args: list[str]
    as_iam_user: bool
    materials: int  # key material versions of the created key (1 + on-demand rotations)

    def run_info(self, workers: int | None, machine: MachineInfo) -> RunInfo:
        """The unmeasured facts recorded for a run against a server with ``workers`` workers."""
        mode = "endpoint" if workers is None else "spawned"
        return RunInfo(mode, workers, presigned=self.presign, warmup=self.warmup, machine=machine)


def benchmark_target(settings: Settings, target: Target, info: RunInfo, server_pid: int | None) -> Record:
    """Warm up and measure one target; return the printed record (of the warm-up if that failed)."""
    tag = info.tag
    pool = RequestPool(target=target, size=settings.presign)
    result: PhaseResult | None = None
    with LoadGenerator(pool, concurrency=settings.concurrency, stall_timeout=settings.stall_timeout) as load:
        if settings.warmup > 0:
            result = load.phase("warmup", settings.warmup)
            log(
                f"{tag} warm-up: {result.ok}/{result.total} OK in {result.wall_s:.2f} s "
                f"({result.ok / (result.wall_s or float('nan')):.0f} req/s); signing {pool.size} requests "
                f"took {pool.sign_seconds * 1000:.0f} ms"
            )
        if result is None or not result.failed:
            log(f"{tag} measuring {settings.requests} requests at concurrency {settings.concurrency} ...")
            result = load.phase("measure", settings.requests, server_pid)
    record = summarise(result, info)
    if result.failed:
        log(
            f"{tag} {'warm-up' if result.label == 'warmup' else 'run'} FAILED: ok={result.ok}/{result.total} "
            f"non_200={record['non_200']} transport_errors={result.transport_errors} stalled={result.stalled}"
        )
        log(f"{tag} first error: {record['first_error']}")
    if result.reconnects:
        log(
            f"{tag} note: {result.reconnects} reconnects ({result.retries} retried requests): the server "
            "closed connections, so keep-alive was not fully in effect and the client paid for TCP handshakes"
        )
    server_us = record["server_cpu_us_per_req"]
    if server_us and record["client_cpu_us_per_req"] > 0.5 * server_us:
        log(f"{tag} note: the client used more than half as much CPU per request as the server")
    return record


def run_spawned(settings: Settings, machine: MachineInfo, emit: Emit) -> int:
    """Default mode: start ``strongroom serve`` once per worker count and benchmark it."""
    exit_code = EXIT_OK
    account = admin_account(settings.region)
    for workers in settings.workers:
        server = SpawnedServer(workers, account, settings.startup_timeout, settings.server_args)
        try:
            server.start()
            key_id = create_symmetric_key(server.endpoint, account, settings.materials)
            log(f"{server.tag} created key {key_id}")
            signer = account
            if settings.as_iam_user:
                signer = iam_user_account(server.data_dir, settings.region, key_id)
                log(f"{server.tag} signing as IAM user {signer.access_key} (identity policy evaluated)")
            target = Target.parse(server.endpoint, signer, key_id)
            record = benchmark_target(settings, target, settings.run_info(workers, machine), server.pid)
            if not server.alive():
                record["failed"] = True
                record["first_error"] = record["first_error"] or "server process exited during the run"
            if record["failed"]:
                exit_code = EXIT_RUN_FAILED
                log(f"{server.tag} last server output:\n{server.log_tail()}")
            emit(record)
        except SetupError as exc:
            log(f"{server.tag} SETUP FAILED: {exc}")
            if server.process is not None and "last server output" not in str(exc):
                log(f"{server.tag} last server output:\n{server.log_tail()}")
            return EXIT_SETUP_FAILED
        finally:
            server.stop()
    return exit_code


def run_external(settings: Settings, machine: MachineInfo, emit: Emit) -> int:
    """``--endpoint`` mode: benchmark an already-running server."""
    assert settings.endpoint is not None and settings.account is not None
    try:
        key_id = settings.key_id or create_symmetric_key(
            settings.endpoint, settings.account, settings.materials
        )
        if not settings.key_id:
            log(f"[endpoint] created key {key_id}")
        if settings.server_pid is not None and read_proc_stat(settings.server_pid) is None:
            raise SetupError(f"--server-pid {settings.server_pid}: no such process")
        target = Target.parse(settings.endpoint, settings.account, key_id)
        record = benchmark_target(settings, target, settings.run_info(None, machine), settings.server_pid)
    except SetupError as exc:
        log(f"[endpoint] SETUP FAILED: {exc}")
        return EXIT_SETUP_FAILED
    emit(record)
    return EXIT_RUN_FAILED if record["failed"] else EXIT_OK
