"""Server configuration and the data directory's layout."""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_PORT",
    "DataDir",
    "ServerConfig",
    "default_data_dir",
    "is_loopback",
    "resolve_host",
]

DEFAULT_PORT = 4599
DEFAULT_ACCOUNT_ID = "111122223333"
ADMIN_ACCESS_KEY_ENV = "STRONGROOM_ADMIN_ACCESS_KEY_ID"
ADMIN_SECRET_KEY_ENV = "STRONGROOM_ADMIN_SECRET_ACCESS_KEY"


def default_data_dir() -> Path:
    """``$STRONGROOM_DATA_DIR``, else ``$XDG_DATA_HOME/strongroom`` (``~/.local/share/strongroom``)."""
    explicit = os.environ.get("STRONGROOM_DATA_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "strongroom"


def resolve_host(host: str) -> str:
    """An IP literal to bind to: host names (``localhost``) are resolved, brackets dropped."""
    bare = host.strip("[]")
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(bare, None, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise ValueError(f"cannot resolve host {host!r}: {error.strerror}") from None
    return str(infos[0][4][0])


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class DataDir:
    """Where everything lives. Files holding secrets are created 0600, the directory 0700."""

    path: Path

    @property
    def database(self) -> Path:
        return self.path / "strongroom.db"

    @property
    def root_key(self) -> Path:
        return self.path / "root.key"

    @property
    def admin_credentials(self) -> Path:
        return self.path / "admin-credentials"

    @property
    def epoch(self) -> Path:
        return self.path / "cache-epoch"

    @property
    def audit(self) -> Path:
        return self.path / "audit"

    @property
    def serve_lock(self) -> Path:
        """Held (``flock``) by the one ``strongroom serve`` running on this directory."""
        return self.path / "serve.lock"

    @property
    def legacy_metrics(self) -> Path:
        """Where metrics files lived before they moved off the data volume; removed at start."""
        return self.path / "metrics"


@dataclass(frozen=True, slots=True)
class ServerConfig:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    account_id: str | None = None
    dev: bool = False
    workers: int = 1
    clock_offset_seconds: float = 0.0
    audit: bool = True  # off only for benchmarks: requests then go unrecorded
    log_level: str = "warning"
    audit_writer: str | None = None  # the audit writer process's socket name, set by serve
    attestation_roots: str | None = None  # PEM file of trusted Nitro roots; None: the AWS Nitro root

    def to_json_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["data_dir"] = str(self.data_dir)
        return values

    @classmethod
    def from_json_dict(cls, values: dict[str, Any]) -> ServerConfig:
        return cls(**{**values, "data_dir": Path(values["data_dir"])})
