"""Opening a data directory: first-start initialization, and assembling the services of one worker."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import orjson
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from strongroom.audit.file_sink import FileAuditSink
from strongroom.audit.recorder import AuditRecorder, AuditSink
from strongroom.audit.remote_sink import RemoteAuditSink
from strongroom.audit.trail import LastUsageIndex
from strongroom.clock import Clock, OffsetClock, SystemClock, SystemRandom
from strongroom.config import (
    ADMIN_ACCESS_KEY_ENV,
    ADMIN_SECRET_KEY_ENV,
    DEFAULT_ACCOUNT_ID,
    DataDir,
    ServerConfig,
)
from strongroom.domain.attestation import AWS_NITRO_ROOT_PEM
from strongroom.domain.ids import root_principal
from strongroom.keystore.file import FileRootOfTrust
from strongroom.observability.disk import DiskSpace
from strongroom.observability.health import HealthChecks
from strongroom.observability.metrics import Metrics
from strongroom.operations.context import Services
from strongroom.operations.registry import CATALOG
from strongroom.protocol.app import KmsApplication
from strongroom.protocol.model import load_kms_model
from strongroom.protocol.sigv4 import SigV4Verifier
from strongroom.protocol.validation import RequestValidator
from strongroom.service.authorization import Authorizer
from strongroom.service.cache_stats import CacheStats
from strongroom.service.changes import CacheCoordinator, EpochFile
from strongroom.service.credentials import CredentialStore, generate_access_key_pair
from strongroom.service.grant_tokens import ensure_grant_token_key
from strongroom.service.keyring import KeyRepository
from strongroom.service.rotation_scheduler import RotationScheduler
from strongroom.storage.sqlite import SqliteStore

__all__ = [
    "CONFIG_ENV",
    "DataDirError",
    "InitResult",
    "build_application",
    "initialize",
    "load_worker_config",
]

CONFIG_ENV = "STRONGROOM_SERVE_CONFIG"


class DataDirError(Exception):
    """The data directory cannot be used as asked (another account, unreadable root key, ...)."""


@dataclass(frozen=True, slots=True)
class InitResult:
    account_id: str
    created: bool
    generated_credentials: tuple[str, str] | None  # (access key id, secret) printed once, never logged


def _write_secret_file(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def initialize(data_dir: DataDir, account_id: str | None) -> InitResult:
    """Create or open a data dir: root key (0600), SQLite database (WAL), account id, admin identity."""
    data_dir.path.mkdir(mode=0o700, parents=True, exist_ok=True)
    created = not data_dir.root_key.exists()
    root = FileRootOfTrust.create(data_dir.root_key) if created else FileRootOfTrust.load(data_dir.root_key)
    store = SqliteStore(data_dir.database)
    try:
        stored_account = store.get_meta("account_id")
        if stored_account is None:
            stored_account = account_id or DEFAULT_ACCOUNT_ID
            store.set_meta("account_id", stored_account)
        elif account_id is not None and account_id != stored_account:
            raise DataDirError(
                f"data dir {data_dir.path} belongs to account {stored_account}, not {account_id}"
            )
        ensure_grant_token_key(store, root, os.urandom)
        credentials = CredentialStore(store, root)
        generated = None
        env_key, env_secret = os.environ.get(ADMIN_ACCESS_KEY_ENV), os.environ.get(ADMIN_SECRET_KEY_ENV)
        if env_key and env_secret:
            credentials.put(env_key, env_secret, stored_account, root_principal(stored_account))
        elif store.get_meta("admin_access_key_id") is None:
            env_key, env_secret = generate_access_key_pair()
            credentials.put(env_key, env_secret, stored_account, root_principal(stored_account))
            _write_secret_file(
                data_dir.admin_credentials,
                f"[default]\naws_access_key_id = {env_key}\naws_secret_access_key = {env_secret}\n",
            )
            generated = (env_key, env_secret)
        if env_key and store.get_meta("admin_access_key_id") != env_key:
            store.set_meta("admin_access_key_id", env_key)
    finally:
        store.close()
    return InitResult(stored_account, created, generated)


def build_application(config: ServerConfig, clock: Clock | None = None) -> KmsApplication:
    """Everything one worker needs, wired together. Called in each worker process."""
    data_dir = DataDir(config.data_dir)
    clock = clock or (
        OffsetClock(config.clock_offset_seconds) if config.clock_offset_seconds else SystemClock()
    )
    rng = SystemRandom()
    root = FileRootOfTrust.load(data_dir.root_key)
    store = SqliteStore(data_dir.database)
    account_id = store.get_meta("account_id")
    if account_id is None:
        raise DataDirError(f"data dir {data_dir.path} is not initialized")
    ensure_grant_token_key(store, root, os.urandom)  # before any request: a request's writes may roll back
    coordinator = CacheCoordinator(store, EpochFile(data_dir.epoch))
    store.set_on_commit(coordinator.published)
    stats = CacheStats()
    keys = KeyRepository(store, root, clock, rng, stats)
    credentials = CredentialStore(store, root, stats)
    coordinator.subscribe(keys.on_change, keys.flush)
    coordinator.subscribe(credentials.on_change, credentials.flush)
    authorizer = Authorizer(store, clock, stats)
    coordinator.subscribe(authorizer.on_change, authorizer.flush)
    model = load_kms_model()
    verifier = SigV4Verifier(
        credentials, SystemClock(), check_signatures=not config.dev, dev_account_id=account_id
    )
    metrics = Metrics(stats, store.count_keys_by_state)
    audit, usage = None, None
    if config.audit:
        sink: AuditSink
        if config.audit_writer is not None:
            sink = RemoteAuditSink(config.audit_writer)
        else:
            sink = FileAuditSink(data_dir.audit, on_flush=metrics.observe_flush, shared=config.workers > 1)
        audit = AuditRecorder(sink)
        usage = LastUsageIndex(data_dir.audit, CATALOG.cryptographic)
    volume = DiskSpace([data_dir.path, data_dir.audit])
    health = HealthChecks(
        storage=lambda: store.get_meta("account_id"),
        wrap=root.wrap,
        unwrap=root.unwrap,
        audit=audit,
        audit_directory=data_dir.audit if audit is not None else None,
        disk=volume,
    )
    return KmsApplication(
        verifier=verifier,
        validator=RequestValidator(model),
        services=Services(
            keys=keys,
            auth=authorizer,
            catalog=CATALOG,
            clock=clock,
            rng=rng,
            key_usage=usage,
            attestation_roots=load_attestation_roots(config.attestation_roots),
        ),
        coordinator=coordinator,
        catalog=CATALOG,
        known_operations=model.operation_names,
        audit=audit,
        metrics=metrics,
        health=health,
        transactions=store.unit_of_work,
        volume_full=volume.is_full,
        rotations=RotationScheduler(keys, store.unit_of_work, audit, coordinator.flush_local),
    )


def load_attestation_roots(path: str | None) -> tuple[bytes, ...]:
    """The DER root certificates trusted for attestation documents: those in the PEM file ``path``, or
    the AWS Nitro Enclaves root."""
    pem = Path(path).read_bytes() if path is not None else AWS_NITRO_ROOT_PEM
    try:
        roots = x509.load_pem_x509_certificates(pem)
    except ValueError as error:
        raise DataDirError(f"{path}: not a PEM file of certificates ({error})") from None
    return tuple(root.public_bytes(serialization.Encoding.DER) for root in roots)


def load_worker_config() -> ServerConfig:
    """A worker's configuration, which the parent ``strongroom serve`` put in the environment."""
    raw = os.environ.get(CONFIG_ENV)
    if not raw:
        raise DataDirError(f"{CONFIG_ENV} is not set; start the server with `strongroom serve`")
    return ServerConfig.from_json_dict(orjson.loads(raw))
