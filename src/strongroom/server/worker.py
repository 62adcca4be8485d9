"""One worker process: the ASGI application under uvicorn, on uvloop, on a socket ``serve`` opened.

Run as ``python -m strongroom.server.worker <fd>``; the configuration comes from the environment
(:data:`~strongroom.bootstrap.CONFIG_ENV`), set by ``strongroom serve``.

Why uvicorn on one thread: a request waits for its audit record, whose acknowledgement the event loop
reads itself. With everything on one thread nothing crosses threads per request; under granian, whose I/O
threads hand each request to the Python thread, the audit trail cost a third of the throughput (see the
README's performance section).
"""

from __future__ import annotations

import asyncio
import socket
import sys

import uvicorn
import uvloop

from strongroom.bootstrap import build_application, load_worker_config
from strongroom.observability.logs import configure_logging

__all__ = ["KEEP_ALIVE_SECONDS", "main"]

KEEP_ALIVE_SECONDS = 65  # longer than the 60 s idle timeout of common load balancers and SDK pools


async def _serve(listener: socket.socket) -> None:
    config = load_worker_config()
    configure_logging(config.log_level)
    app = build_application(config)
    app.start_background_work(asyncio.get_running_loop())
    server = uvicorn.Server(
        uvicorn.Config(
            app.asgi,
            interface="asgi3",
            loop="none",
            http="httptools",
            lifespan="off",
            log_config=None,
            log_level=config.log_level,
            access_log=False,
            server_header=False,
            proxy_headers=False,  # X-Forwarded-For must not change the aws:SourceIp of a request
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
    )
    # No clean-up after: uvicorn stops only once every request in flight is answered, and so recorded.
    await server.serve(sockets=[listener])


def main() -> None:
    # serve starts this with PR_SET_PDEATHSIG set to SIGTERM, on which uvicorn stops gracefully: the
    # requests in flight are answered (and recorded) first.
    listener = socket.socket(fileno=int(sys.argv[1]))
    uvloop.run(_serve(listener))


if __name__ == "__main__":
    main()
