"""AWS Signature Version 4 verification of incoming requests (``Authorization`` header form).

Every KMS call arrives signed by an AWS SDK. This module answers two questions for the protocol edge: *who*
is calling (access key -> account and principal) and *which region* they addressed (the credential scope's
region selects the keyspace, exactly as it selects the endpoint's region on real AWS).

Design notes
------------
* **Errors mirror AWS.** SDKs and people recognise the codes and texts real AWS services send, and some SDKs
  (the JavaScript and Java ones, for instance) look for ``Signature expired`` / ``Signature not yet current``
  to correct clock skew, so the texts below are AWS's own wording, not paraphrases. The order of the checks
  follows the order AWS's JSON-protocol services were observed to apply them: header syntax and presence,
  date format and skew, ``host`` signed, algorithm, credential shape, credential scope, access key, and only
  then the signature.
* **It runs on every request**, so the common path (a botocore-signed ``POST /`` with no query string) avoids
  regular expressions, parses with ``str.partition``/``split``, parses the date once, and caches the derived
  signing key: deriving it costs four HMACs, more than the rest of the verification.
* **The signature is compared in constant time** (:func:`hmac.compare_digest`).
* **The body is bound to the signature.** If the client signed ``x-amz-content-sha256`` we use its value in
  the canonical request (as the client did) but also insist that it is the hash of the body we received;
  otherwise a captured request could be replayed, within the skew window, with a different body.
  ``UNSIGNED-PAYLOAD`` is therefore not accepted: KMS clients always sign the payload.
* **Dev mode** (``check_signatures=False``, the server's ``--dev``) still parses everything and still applies
  the clock-skew window, so a client that works against dev mode produces well-formed requests; it only skips
  the access-key lookup failure and the signature comparison.

Query-string presigning (``X-Amz-Signature`` in the URL) is not supported: KMS clients never use it.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import date as _date
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Final, Protocol, TypeAlias
from urllib.parse import quote, unquote_to_bytes

from strongroom.clock import Clock
from strongroom.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)

if TYPE_CHECKING:
    from hashlib import _Hash as HashObject

__all__ = [
    "Caller",
    "Credential",
    "CredentialLookup",
    "SigV4Verifier",
    "derive_signing_key",
]

ALGORITHM: Final = "AWS4-HMAC-SHA256"
TERMINATOR: Final = "aws4_request"

#: Characters SigV4 leaves unencoded (RFC 3986 "unreserved"). Used with ``str.strip`` as a cheap
#: "consists only of these characters" test: stripping removes everything iff every character is in the set.
_UNRESERVED: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
_REGION_CHARS: Final = "abcdefghijklmnopqrstuvwxyz0123456789-"
_DIGITS: Final = "0123456789"
_EPOCH_ORDINAL: Final = _date(1970, 1, 1).toordinal()
_SIGNING_KEY_CACHE_MAX: Final = 10_000
_DAY_CACHE_MAX: Final = 1_000
_DAY_CACHE: dict[str, int] = {}  # YYYYMMDD -> days since the epoch
_EPOCH_CACHE_MAX: Final = 4_096
_EPOCH_CACHE: dict[str, int] = {}  # YYYYMMDD'T'HHMMSS'Z' -> seconds since the epoch

_MSG_SIGNATURE_MISMATCH: Final = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
_MSG_DATE_REQUIRED: Final = (
    "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
)
_MSG_HOST_NOT_SIGNED: Final = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."


@dataclass(frozen=True, slots=True)
class Credential:
    """A long-term access key as the credential store knows it."""

    access_key_id: str
    secret_access_key: str
    account_id: str  # 12 digits
    principal_arn: str  # e.g. arn:aws:iam::111122223333:root


class CredentialLookup(Protocol):
    """Where the verifier finds secrets; ``None`` means "no such access key"."""

    def get(self, access_key_id: str) -> Credential | None: ...


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated identity of one request."""

    access_key_id: str
    account_id: str
    principal_arn: str
    region: str  # from the credential scope: selects the keyspace


def derive_signing_key(secret_access_key: str, yyyymmdd: str, region: str, service: str) -> bytes:
    """The SigV4 signing key: HMAC chain over date, region, service and terminator.

    Module-level (and looked up through the module at call time) so tests can count derivations.
    """
    k_date = hmac.digest(("AWS4" + secret_access_key).encode("utf-8"), yyyymmdd.encode("utf-8"), "sha256")
    k_region = hmac.digest(k_date, region.encode("utf-8"), "sha256")
    k_service = hmac.digest(k_region, service.encode("utf-8"), "sha256")
    return hmac.digest(k_service, b"aws4_request", "sha256")


def _hmac_pads(key: bytes) -> tuple[HashObject, HashObject]:
    """SHA-256 states after absorbing the HMAC inner and outer key pads (RFC 2104).

    Copying these per request and feeding only the message costs about a third of ``hmac.digest``, which
    re-does the key setup every call; the final HMAC is the one cost we pay on every request. The verifier
    finishes the HMAC inline: ``H(outer || H(inner || message))``.
    """
    block = key.ljust(64, b"\0")  # SigV4 signing keys are 32 bytes, shorter than SHA-256's 64-byte block
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
    return inner, outer


def _format_iso(epoch: float) -> str:
    """Seconds since the epoch as ISO-8601 basic format, the form SigV4 uses (``20240101T000000Z``)."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(int(epoch)))


def _parse_iso_basic(value: str) -> int | None:
    """``YYYYMMDD'T'HHMMSS'Z'`` -> epoch seconds, or None if it is not exactly that.

    Hand-rolled instead of ``strptime`` (about ten times slower) because it runs on every request. Results
    are remembered: under load many requests carry the same timestamp (one-second resolution), and only
    about ``2 * max_skew`` distinct values are acceptable at any moment.
    """
    epoch = _EPOCH_CACHE.get(value)
    if epoch is not None:
        return epoch
    if len(value) != 16 or value[8] != "T" or value[15] != "Z":
        return None
    days = _DAY_CACHE.get(value[:8])
    if days is None:
        days = _parse_day(value[:8])
        if days is None:
            return None
    clock = value[9:15]
    if not (clock.isascii() and clock.isdigit()):
        return None
    hhmmss = int(clock)
    hour, minute, second = hhmmss // 10000, hhmmss // 100 % 100, hhmmss % 100
    if hour > 23 or minute > 59 or second > 59:
        return None
    epoch = days * 86400 + hour * 3600 + minute * 60 + second
    if len(_EPOCH_CACHE) >= _EPOCH_CACHE_MAX:
        _EPOCH_CACHE.clear()
    _EPOCH_CACHE[value] = epoch
    return epoch


def _parse_day(yyyymmdd: str) -> int | None:
    """``YYYYMMDD`` -> days since the epoch (remembered in ``_DAY_CACHE``), or None if not a real date."""
    if not (yyyymmdd.isascii() and yyyymmdd.isdigit()):
        return None
    try:
        days = _date(int(yyyymmdd[0:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8])).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return None
    if len(_DAY_CACHE) >= _DAY_CACHE_MAX:
        _DAY_CACHE.clear()
    _DAY_CACHE[yyyymmdd] = days
    return days


def _parse_date_header(value: str) -> int | None:
    """The ``Date`` header: SigV4 accepts ISO-8601 basic there too, but HTTP clients send RFC 7231 dates."""
    epoch = _parse_iso_basic(value)
    if epoch is not None:
        return epoch
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:  # "-0000" (what botocore's formatdate writes) or no zone: HTTP dates are UTC
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def _canonical_uri(path: str) -> str:
    """The canonical URI of a non-S3 service from the *raw* (still percent-encoded) request path.

    SigV4 for every service but S3 normalises the path (dot segments and empty segments removed) and
    URI-encodes it once more: the wire path is already encoded once, so ``/a%20b`` is signed as ``/a%2520b``.
    That is what botocore does, so the server must pass the path exactly as it came off the wire.
    """
    if path == "/" or not path:
        return "/"
    segments: list[str] = []
    for segment in path.split("/"):
        if not segment or segment == ".":
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    normalised = "/" + "/".join(segments)
    if path.endswith("/") and segments:
        normalised += "/"
    return quote(normalised, safe="/~")


def _canonical_query_component(component: str) -> str:
    """Decode then encode one key or value, so any valid client encoding maps to SigV4's single form."""
    if not component.strip(_UNRESERVED):
        return component  # nothing to encode: the common case
    return quote(unquote_to_bytes(component), safe="-_.~")


def _canonical_query(query: str) -> str:
    """Parameters URI-encoded per SigV4 and sorted by encoded name, then by encoded value."""
    if not query:
        return ""
    pairs: list[tuple[str, str]] = []
    for item in query.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        pairs.append((_canonical_query_component(name), _canonical_query_component(value)))
    pairs.sort()
    return "&".join(f"{name}={value}" for name, value in pairs)


def _canonical_header_value(value: str) -> str:
    """SigV4 "Trimall": trim, and collapse inner whitespace runs to one space (fast path: nothing to do)."""
    value = value.strip()
    if "  " in value or "\t" in value or not value.isascii():  # rare: botocore collapses any whitespace run
        return " ".join(value.split())
    return value


def _parse_authorization(authorization: str) -> tuple[str, str | None, str | None, str | None]:
    """Split an ``Authorization`` value into (scheme, Credential, SignedHeaders, Signature).

    Parameters are only parsed for ``AWS4-*`` schemes: anything else (``Bearer ...``, SigV2's ``AWS ...``)
    simply lacks them, which is how AWS reports it. Parameters are separated by commas and/or whitespace
    (none of their values may contain either); a token without ``=`` is an error in AWS's wording.
    """
    scheme, _, rest = authorization.partition(" ")
    if not scheme.startswith("AWS4-"):
        return scheme, None, None, None
    # Fast path: exactly botocore's layout, "Credential=..., SignedHeaders=..., Signature=...". When no value
    # holds a space or comma (and the header has no tab or non-ASCII whitespace), the general parser below
    # would split it the same way. (str.isascii is O(1); isprintable would scan the whole header.)
    if rest.startswith("Credential=") and rest.isascii() and "\t" not in rest:
        credential, found_signed, tail = rest[11:].partition(", SignedHeaders=")
        signed_headers, found_signature, signature = tail.partition(", Signature=")
        if (
            found_signed
            and found_signature
            and " " not in credential
            and "," not in credential
            and " " not in signed_headers
            and "," not in signed_headers
            and " " not in signature
            and "," not in signature
        ):
            return scheme, credential, signed_headers, signature
    found: dict[str, str] = {}
    for token in rest.replace(",", " ").split():
        name, eq, value = token.partition("=")
        if not eq:
            raise IncompleteSignatureException(
                f"'{token}' not a valid key=value pair (missing equal-sign) in Authorization header: "
                f"'{authorization}'."
            )
        found[name] = value
    return scheme, found.get("Credential"), found.get("SignedHeaders"), found.get("Signature")


def _scope_problems(
    scope_date: str, region: str, service: str, terminator: str, expected_service: str, request_iso: str
) -> str:
    """Everything wrong with the credential scope, in AWS's order and wording (called only if something is).

    AWS reports all scope problems at once, each sentence followed by a space except the date one.
    """
    request_day = request_iso[:8]
    region_ok = bool(region) and not region.strip(_REGION_CHARS)
    problems = ""
    if not region_ok:
        problems += f"Credential should be scoped to a valid region, not '{region}'. "
    if service != expected_service:
        problems += f"Credential should be scoped to correct service: '{expected_service}'. "
    if terminator != TERMINATOR:
        problems += (
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{terminator}'. "
        )
    if scope_date != request_day:
        problems += (
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{scope_date}' != '{request_day}', from '{request_iso}'."
        )
    return problems


#: Signing-key cache value: the HMAC pads of the derived key, and the Caller to return on success.
_CacheEntry: TypeAlias = "tuple[tuple[HashObject, HashObject], Caller]"


class SigV4Verifier:
    """Verifies SigV4 ``Authorization`` headers and resolves the caller.

    One instance serves the whole process; it holds nothing request-specific apart from the signing-key cache,
    whose races (two threads deriving the same key) are harmless.
    """

    __slots__ = (
        "_check_signatures",
        "_clock",
        "_credentials",
        "_dev_account_id",
        "_key_cache",
        "_max_skew",
        "_service",
        "_skew_label",
    )

    def __init__(
        self,
        credentials: CredentialLookup,
        clock: Clock,
        *,
        service: str = "kms",
        max_skew_seconds: int = 300,
        check_signatures: bool = True,
        dev_account_id: str | None = None,
    ) -> None:
        if not check_signatures and (
            dev_account_id is None or len(dev_account_id) != 12 or dev_account_id.strip(_DIGITS)
        ):
            raise ValueError("dev mode (check_signatures=False) needs a 12-digit dev_account_id")
        if max_skew_seconds < 0:
            raise ValueError("max_skew_seconds must not be negative")
        self._credentials = credentials
        self._clock = clock
        self._service = service
        self._max_skew = max_skew_seconds
        self._skew_label = f"{max_skew_seconds / 60:g} min."
        self._check_signatures = check_signatures
        self._dev_account_id = dev_account_id
        # (access key, secret, yyyymmdd, region, service) -> (HMAC pads of the signing key, Caller)
        self._key_cache: dict[tuple[str, str, str, str, str], _CacheEntry] = {}

    def authenticate(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> Caller:
        """Verify one request and return who sent it.

        ``path`` is the raw request path (not percent-decoded), ``query`` the raw query string without ``?``,
        ``headers`` maps lower-case header names to values (repeated headers joined with ``,``).
        Raises an :class:`~strongroom.errors.AuthError` subclass on any failure.
        """
        authorization = headers.get("authorization")
        if not authorization or authorization.isspace():
            raise MissingAuthenticationTokenException()

        # -- syntax and presence ------------------------------------------------------------------------
        authorization = authorization.strip()
        scheme, credential, signed_headers, signature = _parse_authorization(authorization)

        date_header = "x-amz-date"
        date_value = headers.get("x-amz-date")
        if date_value is None:
            date_header = "date"
            date_value = headers.get("date")

        if not credential or not signature or signed_headers is None or date_value is None:
            missing = ""
            if not credential:
                missing += "Authorization header requires 'Credential' parameter. "
            if not signature:
                missing += "Authorization header requires 'Signature' parameter. "
            if signed_headers is None:
                missing += "Authorization header requires 'SignedHeaders' parameter. "
            if date_value is None:
                missing += _MSG_DATE_REQUIRED
            raise IncompleteSignatureException(f"{missing}Authorization={authorization}")

        # -- date format and clock skew -----------------------------------------------------------------
        if date_header == "x-amz-date":
            request_epoch = _parse_iso_basic(date_value)
            request_iso = date_value
        else:
            request_epoch = _parse_date_header(date_value)
            request_iso = "" if request_epoch is None else _format_iso(request_epoch)
        if request_epoch is None:
            raise IncompleteSignatureException(
                f"Date must be in ISO-8601 'basic format'. Got '{date_value}'. "
                "See http://en.wikipedia.org/wiki/ISO_8601"
            )
        now = self._clock.now()
        if request_epoch < now - self._max_skew:
            raise InvalidSignatureException(
                f"Signature expired: {request_iso} is now earlier than {_format_iso(now - self._max_skew)} "
                f"({_format_iso(now)} - {self._skew_label})"
            )
        if request_epoch > now + self._max_skew:
            raise InvalidSignatureException(
                f"Signature not yet current: {request_iso} is still later than "
                f"{_format_iso(now + self._max_skew)} ({_format_iso(now)} + {self._skew_label})"
            )

        # -- signed-header requirements -----------------------------------------------------------------
        signed_headers = signed_headers.lower()
        signed_names = signed_headers.split(";")
        if "host" not in signed_names and ":authority" not in signed_names:
            raise InvalidSignatureException(_MSG_HOST_NOT_SIGNED)
        if date_header not in signed_names:
            shown = "X-Amz-Date" if date_header == "x-amz-date" else "Date"
            raise InvalidSignatureException(f"'{shown}' must be a 'SignedHeader' in the AWS Authorization.")

        # -- algorithm and credential scope -------------------------------------------------------------
        if scheme != ALGORITHM:
            raise IncompleteSignatureException(
                f"Unsupported AWS 'algorithm': '{scheme}' (only {ALGORITHM} for now). "
            )
        parts = credential.rstrip("/").split("/")
        if len(parts) != 5:
            raise IncompleteSignatureException(
                "Credential must have exactly 5 slash-delimited elements, "
                f"e.g. keyid/date/region/service/term, got '{credential}'"
            )
        access_key_id, scope_date, region, service, terminator = parts
        if (
            scope_date != request_iso[:8]
            or service != self._service
            or terminator != TERMINATOR
            or not region
            or region.strip(_REGION_CHARS)
        ):
            raise InvalidSignatureException(
                _scope_problems(scope_date, region, service, terminator, self._service, request_iso)
            )

        # -- access key ---------------------------------------------------------------------------------
        known = self._credentials.get(access_key_id)
        if not self._check_signatures:
            if known is None:
                dev_account = self._dev_account_id or ""
                return Caller(access_key_id, dev_account, f"arn:aws:iam::{dev_account}:root", region)
            return Caller(access_key_id, known.account_id, known.principal_arn, region)
        if known is None:
            raise UnrecognizedClientException()

        # -- signature ----------------------------------------------------------------------------------
        try:
            canonical_headers = "".join([f"{name}:{headers[name].strip()}\n" for name in signed_names])
        except KeyError:  # the client signed a header we did not receive: it cannot match
            raise InvalidSignatureException(_MSG_SIGNATURE_MISMATCH) from None
        # Values needing SigV4's whitespace collapsing are rare; one scan of the joined text finds them.
        if "  " in canonical_headers or "\t" in canonical_headers or not canonical_headers.isascii():
            canonical_headers = "".join(
                [f"{name}:{_canonical_header_value(headers[name])}\n" for name in signed_names]
            )

        payload_hash = hashlib.sha256(body).hexdigest()
        if "x-amz-content-sha256" in signed_names:
            claimed = headers["x-amz-content-sha256"]
            if claimed.lower() != payload_hash:
                raise InvalidSignatureException(_MSG_SIGNATURE_MISMATCH)
            payload_hash = claimed

        canonical_uri = "/" if path == "/" else _canonical_uri(path)
        canonical_query = _canonical_query(query) if query else ""
        canonical_request = (
            f"{method.upper()}\n{canonical_uri}\n{canonical_query}\n{canonical_headers}\n"
            f"{signed_headers}\n{payload_hash}"
        )
        scope = f"{scope_date}/{region}/{service}/{TERMINATOR}"
        string_to_sign = "\n".join(
            (
                ALGORITHM,
                request_iso,
                scope,
                hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
            )
        )

        cache_key = (access_key_id, known.secret_access_key, scope_date, region, service)
        cached = self._key_cache.get(cache_key)
        if cached is None:
            if len(self._key_cache) >= _SIGNING_KEY_CACHE_MAX:
                self._key_cache.clear()
            pads = _hmac_pads(derive_signing_key(known.secret_access_key, scope_date, region, service))
            cached = (pads, Caller(access_key_id, known.account_id, known.principal_arn, region))
            self._key_cache[cache_key] = cached
        pads, caller = cached

        inner = pads[0].copy()  # HMAC-SHA256 from precomputed pads: see _hmac_pads
        inner.update(string_to_sign.encode("utf-8"))
        outer = pads[1].copy()
        outer.update(inner.digest())
        expected = outer.hexdigest()
        if not signature.isascii() or not hmac.compare_digest(expected, signature):
            raise InvalidSignatureException(_MSG_SIGNATURE_MISMATCH)
        if caller.account_id != known.account_id or caller.principal_arn != known.principal_arn:
            # Same key and secret, but the store re-homed the key since we cached its Caller.
            caller = Caller(access_key_id, known.account_id, known.principal_arn, region)
        return caller
