"""Building blocks of the GenerateDataKey load benchmark (``bench/gdk_load.py``).

- :mod:`.common` - setup errors, exit codes, progress logging;
- :mod:`.signing` - credentials, the target endpoint, key creation and the pool of pre-signed requests;
- :mod:`.http1` - a minimal HTTP/1.1 client exchange on raw asyncio streams;
- :mod:`.driver` - load phases over keep-alive connections (re-signing, stall watchdog, CPU sampling);
- :mod:`.procstat` - CPU time of a process tree from ``/proc``;
- :mod:`.server` - starting and stopping ``strongroom serve``;
- :mod:`.report` - machine description, per-run records, the results table;
- :mod:`.runs` - spawned-server mode and ``--endpoint`` mode.
"""
