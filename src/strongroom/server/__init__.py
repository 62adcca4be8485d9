"""Running the HTTP endpoint: :mod:`.pool` (``strongroom serve``'s worker processes, one listening socket
each) and :mod:`.worker` (one worker: uvicorn on uvloop, serving the ASGI application)."""
