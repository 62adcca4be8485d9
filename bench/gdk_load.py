#!/usr/bin/env python3
"""Load benchmark for Strongroom's ``TrentService.GenerateDataKey``.

By default the script starts ``strongroom serve`` itself once per ``--workers`` value (fresh data
directory, free port, admin credentials through the environment), creates a symmetric key, warms up and
then sends a fixed number of ``GenerateDataKey`` (``KeySpec=AES_256``) requests over ``--concurrency``
keep-alive HTTP/1.1 connections.  With ``--endpoint`` it benchmarks an already-running server instead.

The client is built to cost far less CPU than the server, because client and server share a small
machine: a pool of requests is SigV4-signed *before* the timed phase and serialised to raw HTTP/1.1
bytes once; the timed phase only writes those bytes and parses the responses on raw asyncio streams
(uvloop when available).  A SigV4 signature is accepted for a few minutes only, so the pool is re-signed
in the background of a phase that runs for longer than four minutes.

Reported per run: wall time, requests/s, latency percentiles, the server's CPU time per request (utime +
stime of the server process and all its descendants, from ``/proc``; the steady figure on a shared
machine) and the client's own CPU time per request.

This file is the command line; the parts live in the ``loadgen`` package next to it (Python puts the
script's directory first on ``sys.path``, so ``python bench/gdk_load.py`` finds it from anywhere).

Examples::

    python bench/gdk_load.py                               # spawn strongroom, workers 1 and 2
    python bench/gdk_load.py --workers 2 --requests 20000 --json
    python bench/gdk_load.py --endpoint http://127.0.0.1:5000 --access-key test --secret-key test \\
        --region us-east-1 --server-pid 12345
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import fields

from loadgen.common import EXIT_INTERRUPTED, EXIT_OK, log
from loadgen.report import Record, machine_info, print_header, print_results
from loadgen.runs import Settings, run_external, run_spawned
from loadgen.signing import Account


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def worker_list(text: str) -> list[int]:
    """argparse type: a comma-separated list of positive worker counts."""
    try:
        values = [positive_int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected e.g. 1,2 - {exc}") from exc
    if not values:
        raise argparse.ArgumentTypeError("at least one worker count is required")
    return values


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(
        description="Load-benchmark Strongroom's GenerateDataKey (AES_256) with pre-signed requests.",
    )
    add = parser.add_argument
    add("--requests", type=positive_int, default=50_000, help="measured requests per run [50000]")
    add("--warmup", type=int, default=2_000, help="warm-up requests before each run, 0 = none [2000]")
    add("--concurrency", type=positive_int, default=64, help="keep-alive connections [64]")
    add("--workers", type=worker_list, default=[1, 2], help="server worker counts to spawn [1,2]")
    add("--presign", type=positive_int, default=256, help="distinct pre-signed requests [256]")
    add("--endpoint", help="benchmark this running server (http://host:port) instead of spawning one")
    add("--access-key", help="with --endpoint [$AWS_ACCESS_KEY_ID]")
    add("--secret-key", help="with --endpoint [$AWS_SECRET_ACCESS_KEY]")
    add("--session-token", help="with --endpoint [$AWS_SESSION_TOKEN]")
    add("--region", default="us-east-1", help="SigV4 signing region [us-east-1]")
    add("--key-id", help="with --endpoint: existing key to use [create one]")
    add("--server-pid", type=positive_int, help="with --endpoint: PID to charge server CPU to")
    add(
        "--json",
        dest="json_output",
        action="store_true",
        help="print one JSON object per line instead of a table",
    )
    add(
        "--as-iam-user",
        action="store_true",
        help="spawned mode: sign as an IAM user whose identity policy allows GenerateDataKey on the key, "
        "instead of the account root (the full authorization path)",
    )
    add(
        "--materials",
        type=positive_int,
        default=1,
        help="key material versions of the created key: 1 + on-demand rotations, at most 26 [1]",
    )
    add("--startup-timeout", type=float, default=30.0, help="seconds to wait for the port [30]")
    add("--stall-timeout", type=float, default=30.0, help="abort a phase after N idle seconds [30]")
    add(
        "--server-arg",
        dest="server_args",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for 'strongroom serve' (repeatable; spawned mode)",
    )
    return parser


def parse_args(argv: Sequence[str] | None) -> Settings:
    """Parse and validate the command line (argument names match the :class:`Settings` fields)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    account: Account | None = None
    if args.endpoint:
        access_key = args.access_key or os.environ.get("AWS_ACCESS_KEY_ID")
        secret_key = args.secret_key or os.environ.get("AWS_SECRET_ACCESS_KEY")
        if not access_key or not secret_key:
            parser.error(
                "--endpoint needs --access-key and --secret-key (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
            )
        session_token = args.session_token or os.environ.get("AWS_SESSION_TOKEN")
        account = Account(args.region, access_key, secret_key, session_token)
    else:
        for option in ("key_id", "server_pid"):
            if getattr(args, option) is not None:
                parser.error(f"--{option.replace('_', '-')} only makes sense with --endpoint")
    if args.endpoint and args.as_iam_user:
        parser.error("--as-iam-user only makes sense in spawned mode")
    if args.warmup < 0:
        parser.error("--warmup must be >= 0")
    values = {field.name: getattr(args, field.name) for field in fields(Settings) if field.name != "account"}
    return Settings(account=account, **values)


def raise_system_exit(signum: int, _frame: object) -> None:
    """SIGTERM handler: unwind normally so that a spawned server is stopped and its data dir deleted."""
    log(f"terminated by signal {signum}, cleaning up")
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    settings = parse_args(argv)
    signal.signal(signal.SIGTERM, raise_system_exit)
    machine = machine_info()
    records: list[Record] = []

    def emit(record: Record) -> None:
        records.append(record)
        if settings.json_output:
            print(json.dumps(record), flush=True)

    if settings.json_output:
        log(f"machine: nproc={machine.nproc}, CPU: {machine.cpu_model}; python: {machine.python}")
    else:
        print_header(machine, sys.stdout)
    try:
        run = run_external if settings.endpoint else run_spawned
        exit_code = run(settings, machine, emit)
    except KeyboardInterrupt:
        log("interrupted")
        exit_code = EXIT_INTERRUPTED
    if not settings.json_output and records:
        print_results(records, presign=settings.presign, warmup=settings.warmup, out=sys.stdout)
    if exit_code != EXIT_OK:
        log(f"benchmark FAILED (exit code {exit_code})")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
