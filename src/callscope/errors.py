"""The one exception tree of callscope.

::

    CallscopeError
    ├── ConfigError                 a setting is wrong; the message says the fix   (permanent)
    ├── ProtocolError               a peer broke a wire protocol                   (permanent)
    │   ├── MalformedMessage        one message is unusable; the call goes on      (per message)
    │   └── StreamRefused           the stream cannot be accepted (content type…)  (permanent)
    │       └── DialogRefused       a RingCX gRPC dialog cannot be accepted; names its
    │                               gRPC status (INVALID_ARGUMENT, UNIMPLEMENTED)  (permanent)
    ├── IngestRefused               a stream did not prove its profile's secret    (permanent)
    ├── InvalidState                an action does not fit the current state       (permanent)
    ├── Refused                     a request broke a domain rule; its ``kind`` (not
    │   │                           found, conflict, forbidden, invalid…) picks the
    │   │                           HTTP answer in ``api/errors.py``               (permanent)
    │   └── SupervisionRefused      a supervision rule (spec §7.5)                 (permanent)
    ├── RecordingError              a recording file cannot be written or repaired (permanent)
    ├── TranscriptInvalid           a transcript given to analyse cannot be read   (permanent)
    ├── WebhookTargetRefused        a WebHook address that must not be called      (permanent)
    └── SimulatorError              the sending side failed
        ├── UpgradeRefused          the server said 4xx on the upgrade             (permanent)
        └── UpgradeFailed           5xx or network failure on the upgrade          (transient)

Third-party errors are translated at the boundary with ``raise Ours(...) from exc``.
``transient`` tells a caller whether trying again may help.
"""

from __future__ import annotations

import enum
from typing import Literal

__all__ = [
    "CallscopeError",
    "ConfigError",
    "DialogRefused",
    "ErrorKind",
    "GrpcRefusal",
    "IngestRefused",
    "InvalidState",
    "MalformedMessage",
    "ProtocolError",
    "RecordingError",
    "Refused",
    "SimulatorError",
    "StreamRefused",
    "SupervisionRefused",
    "TranscriptInvalid",
    "UpgradeFailed",
    "UpgradeRefused",
    "WebhookTargetRefused",
]


class CallscopeError(Exception):
    """Base of every error callscope raises on purpose."""

    transient: bool = False


class ConfigError(CallscopeError):
    """A setting has a value that cannot work; the message names the setting and the fix."""


class ProtocolError(CallscopeError):
    """A peer sent something its wire protocol does not allow."""


class MalformedMessage(ProtocolError):
    """One message cannot be used. It is counted and dropped; the stream continues.

    Attributes:
        kind: short machine-readable reason (``bad_json``, ``bad_base64``, ``oversize``...).
    """

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


class StreamRefused(ProtocolError):
    """The stream as announced cannot be accepted; the connection is closed with a reason.

    Attributes:
        close_code: the WebSocket close code to send (RFC 6455 §7.4.1).
    """

    def __init__(self, reason: str, *, close_code: int = 1003) -> None:
        super().__init__(reason)
        self.reason = reason
        self.close_code = close_code


#: gRPC status codes a refused dialog is answered with, by their ``grpc.StatusCode`` names
#: (no grpc import here: protocol cores are sans-I/O)
GrpcRefusal = Literal["INVALID_ARGUMENT", "UNIMPLEMENTED"]


class DialogRefused(StreamRefused):
    """A RingCX gRPC streaming dialog cannot be accepted (spec §11.4): the server aborts the
    RPC with ``grpc_code`` and ``reason`` as its details.

    ``INVALID_ARGUMENT``: the sender broke the protocol (first message not ``dialog_init``,
    no dialog id, an unknown codec number). ``UNIMPLEMENTED``: a valid stream callscope does
    not decode (OPUS, FLAC, a rate other than 8000 Hz).

    Attributes:
        grpc_code: the ``grpc.StatusCode`` member name to abort with.
    """

    def __init__(self, reason: str, *, grpc_code: GrpcRefusal) -> None:
        super().__init__(reason)
        self.grpc_code: GrpcRefusal = grpc_code


class IngestRefused(CallscopeError):
    """A stream may not be received (callscope.ingest.auth): no or a wrong secret, a claim
    its profile does not hold, or its address is held back after failures.

    Attributes:
        status: HTTP status for a refused upgrade (401, 403, 429).
        code: the RingCentral error code of the answer.
        reason: label of ``callscope_streams_refused_total``.
        retry_after_s: for 429, when the address may try again.
    """

    def __init__(
        self, status: int, code: str, message: str, reason: str, retry_after_s: float = 0.0
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.reason = reason
        self.retry_after_s = retry_after_s


class InvalidState(CallscopeError):
    """An action was asked for in a state that does not allow it."""


class ErrorKind(enum.StrEnum):
    """What kind of rule a :class:`Refused` request broke. ``api/errors.py`` maps each kind
    to one HTTP status and RingCentral error code (spec §1.3)."""

    NOT_FOUND = "not_found"  # the resource of the path does not exist (404 CMN-102)
    UNKNOWN_REFERENCE = "unknown_reference"  # a body parameter names nothing (400 CMN-102)
    INVALID = "invalid"  # a value or an action does not fit (400 CMN-101)
    FORBIDDEN = "forbidden"  # not the caller's to touch (403 CMN-404)
    PERMISSION = "permission"  # a user permission is missing (403 CMN-408)
    CONFLICT = "conflict"  # someone else holds it (409 CMN-409)


class Refused(CallscopeError):
    """A request broke a domain rule. The message says which and, where it can, the fix.

    Attributes:
        kind: what kind of rule (picks the HTTP status and error code).
        parameter: the request parameter at fault, if one is.
        value: its value as received (never rendered when None).
        permission: for :attr:`ErrorKind.PERMISSION`, the permission's name.
    """

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        parameter: str | None = None,
        value: object = None,
        permission: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.parameter = parameter
        self.value = value
        self.permission = permission


class SupervisionRefused(Refused):
    """A supervision request broke a rule (callscope.supervision.core)."""

    @classmethod
    def not_found(cls, parameter: str, text: str) -> SupervisionRefused:
        """RingCentral's "Resource for parameter [...] is not found" for ``parameter``."""
        return cls(
            ErrorKind.UNKNOWN_REFERENCE,
            f"Resource for parameter [{parameter}] is not found",
            parameter=parameter,
            value=text,
        )


class RecordingError(CallscopeError):
    """A recording cannot be written, read or repaired."""


class TranscriptInvalid(CallscopeError, ValueError):
    """A transcript given for insights (JSON, WebVTT or WAV) cannot be read; the message
    says where and why."""


class WebhookTargetRefused(CallscopeError, OSError):
    """A WebHook request would connect to an address the target policy refuses
    (``events/targets.py``): not a public address, or this server's own port.

    It is an :class:`OSError` so that aiohttp's connector, which raises it from the
    resolver, carries it as the ``os_error`` of its ``ClientConnectorError``.

    Attributes:
        detail: the refused address and why, for the server log only.
        own_server: the address is this server's own port (refused even in labs).
    """

    def __init__(self, detail: str, *, own_server: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.own_server = own_server


class SimulatorError(CallscopeError):
    """The simulated sending side failed."""


class UpgradeRefused(SimulatorError):
    """The server refused the WebSocket upgrade with a 4xx status: final, never retried."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"upgrade refused with HTTP {status}: {body[:200]}")
        self.status = status
        self.body = body


class UpgradeFailed(SimulatorError):
    """The upgrade failed with a 5xx status or a network error: worth retrying."""

    transient = True

    def __init__(self, detail: str, *, status: int | None = None) -> None:
        super().__init__(detail)
        self.status = status
