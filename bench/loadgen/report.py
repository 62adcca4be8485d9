"""What is printed: the machine description, one flat record per run, and the results table."""

from __future__ import annotations

import contextlib
import math
import os
import platform
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from .driver import PhaseResult, event_loop_name

Record = dict[str, Any]


@dataclass(frozen=True)
class MachineInfo:
    """What the benchmark ran on."""

    nproc: int
    cpu_model: str
    python: str
    event_loop: str


def cpu_model() -> str:
    """Return the CPU model name from ``/proc/cpuinfo`` (or a best-effort fallback)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Processor", "cpu model") and value.strip():
                return value.strip()
    return platform.processor() or platform.machine() or "unknown"


def machine_info() -> MachineInfo:
    """Collect :class:`MachineInfo` for the current host (``nproc`` counts the CPUs we may run on)."""
    try:
        nproc = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        nproc = os.cpu_count() or 1
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return MachineInfo(nproc=nproc, cpu_model=cpu_model(), python=python, event_loop=event_loop_name())


@dataclass(frozen=True)
class RunInfo:
    """The facts about a run that are not measured, copied into its record."""

    mode: str  # "spawned" or "endpoint"
    workers: int | None  # None in endpoint mode
    presigned: int
    warmup: int
    machine: MachineInfo

    @property
    def tag(self) -> str:
        """Prefix of this run's progress messages."""
        return "[endpoint]" if self.workers is None else f"[workers={self.workers}]"


def percentile_ms(sorted_ns: Sequence[int], pct: float) -> float | None:
    """Nearest-rank percentile of sorted nanosecond values, in milliseconds."""
    if not sorted_ns:
        return None
    rank = max(1, math.ceil(pct / 100.0 * len(sorted_ns)))
    return sorted_ns[rank - 1] / 1e6


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def summarise(result: PhaseResult, info: RunInfo) -> Record:
    """Turn a :class:`PhaseResult` into the flat record that is printed."""
    latencies = sorted(result.latencies_ns)
    wall = result.wall_s or float("nan")
    server_s = result.server_cpu_s
    server_us = server_s * 1e6 / result.total if server_s is not None else None
    machine = info.machine
    return {
        "mode": info.mode,
        "workers": info.workers,
        "requests": result.total,
        "concurrency": result.concurrency,
        "ok": result.ok,
        "wall_s": round(result.wall_s, 3),
        "rps": round(result.ok / wall, 1),
        "p50_ms": _round(percentile_ms(latencies, 50), 3),
        "p90_ms": _round(percentile_ms(latencies, 90), 3),
        "p99_ms": _round(percentile_ms(latencies, 99), 3),
        "max_ms": _round(latencies[-1] / 1e6 if latencies else None, 3),
        "server_cpu_us_per_req": _round(server_us, 1),
        "rps_per_server_core": _round(1e6 / server_us if server_us else None, 1),
        "server_cores_busy": _round(server_s / wall if server_s is not None else None, 2),
        "client_cpu_us_per_req": round(result.client_cpu_s * 1e6 / result.total, 1),
        "client_cores_busy": round(result.client_cpu_s / wall, 2),
        "non_200": {str(code): count for code, count in sorted(result.non_200.items())},
        "transport_errors": result.transport_errors,
        "errors": result.total - result.ok,
        "retries": result.retries,
        "reconnects": result.reconnects,
        "resigned": result.resigned,
        "failed": result.failed,
        "first_error": result.first_error or result.validation_error,
        "presigned": info.presigned,
        "warmup": info.warmup,
        "nproc": machine.nproc,
        "cpu_model": machine.cpu_model,
        "python": machine.python,
        "event_loop": machine.event_loop,
        "phase": result.label,
    }


COLUMNS: list[tuple[str, str, int]] = [
    ("workers", "workers", 7),
    ("requests", "requests", 8),
    ("concurrency", "conc", 4),
    ("wall_s", "wall s", 7),
    ("rps", "req/s", 8),
    ("p50_ms", "p50 ms", 7),
    ("p90_ms", "p90 ms", 7),
    ("p99_ms", "p99 ms", 7),
    ("server_cpu_us_per_req", "srv CPU us/req", 14),
    ("rps_per_server_core", "req/s/core", 10),
    ("server_cores_busy", "srv cores", 9),
    ("client_cpu_us_per_req", "cli CPU us/req", 14),
    ("client_cores_busy", "cli cores", 9),
    ("errors", "errors", 6),
    ("status", "status", 6),
]


def format_table(records: Sequence[Record]) -> Iterator[str]:
    """Yield the lines of a fixed-width results table."""
    yield "  ".join(title.rjust(width) for _, title, width in COLUMNS)
    for record in records:
        cells: list[str] = []
        for key, _, width in COLUMNS:
            if key == "status":
                value: object = "FAILED" if record["failed"] else "ok"
            elif key == "workers" and record["mode"] == "endpoint":
                value = "ext"
            else:
                value = record[key]
            cells.append(("-" if value is None else str(value)).rjust(width))
        yield "  ".join(cells)


def print_header(machine: MachineInfo, out: TextIO) -> None:
    """Print the machine description above the table."""
    print("Strongroom GenerateDataKey load benchmark", file=out)
    print(f"machine : nproc={machine.nproc}, CPU: {machine.cpu_model}", file=out)
    print(f"python  : {machine.python} (client event loop: {machine.event_loop})", file=out)
    out.flush()


def print_results(records: Sequence[Record], *, presign: int, warmup: int, out: TextIO) -> None:
    """Print the results table and a note for every run that reconnected or failed."""
    print(
        f"GenerateDataKey AES_256, {presign} pre-signed requests reused round-robin, "
        f"{warmup} warm-up requests per run",
        file=out,
    )
    for line in format_table(records):
        print(line, file=out)
    for record in records:
        run = "endpoint" if record["workers"] is None else f"workers={record['workers']}"
        if record["reconnects"]:
            print(
                f"note ({run}): {record['reconnects']} reconnects - the server closed keep-alive "
                "connections (e.g. 'Connection: close')",
                file=out,
            )
        if record["failed"]:
            print(f"FAILED ({run}, phase={record['phase']}): {record['first_error']}", file=out)
