"""AWS JSON 1.1 on the wire: response headers, bodies and the one mapping from errors to HTTP."""

from __future__ import annotations

from typing import Any

import orjson

from strongroom.clock import CounterIds
from strongroom.errors import KmsError

__all__ = ["CONTENT_TYPE", "RequestIds", "Response", "error_response", "printable", "success_response"]

CONTENT_TYPE = "application/x-amz-json-1.1"

Response = tuple[int, list[tuple[str, str]], bytes]


RequestIds = CounterIds  # UUID-shaped request ids, unique across workers


def success_response(request_id: str, result: dict[str, Any] | None) -> Response:
    body = orjson.dumps(result) if result is not None else b"{}"
    return 200, [("content-type", CONTENT_TYPE), ("x-amzn-requestid", request_id)], body


def error_response(request_id: str, error: KmsError) -> Response:
    """``{"__type": <short code>, "message": ...}``; the message is left out when there is none, as AWS
    does for InvalidCiphertextException and friends. ``X-Amzn-ErrorType`` carries the same short code for
    SDKs that read the header first (digest 1.3)."""
    payload: dict[str, str] = {"__type": error.code}
    if error.message:
        payload["message"] = error.message
    headers = [
        ("content-type", CONTENT_TYPE),
        ("x-amzn-requestid", request_id),
        ("x-amzn-errortype", error.code),
    ]
    try:
        body = orjson.dumps(payload)
    except TypeError:  # a message quoting input that is not valid Unicode (a lone surrogate)
        body = orjson.dumps({k: printable(v) for k, v in payload.items()})
    return error.status, headers, body


def printable(text: str) -> str:
    """``text`` as valid UTF-8: lone surrogates become ``\\udfff`` escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
