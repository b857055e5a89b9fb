"""RingCX call streaming over gRPC (spec §11.4): the ``grpc.aio`` server around
:class:`~callscope.ingest.dialog.DialogStream`, in the HTTP server's process and event loop.

``ringcentral.ringcx.streaming.v1beta2.Streaming/Stream`` is client streaming: RingCX sends
``StreamEvent`` messages and gets ``google.protobuf.Empty`` (or a status) at the end.

* **TLS.** RingCX connects over TLS only (ports 443 or 10443, a certificate matching the
  workflow's host name); ``tls_cert``/``tls_key`` enable it. Plaintext is allowed only on a
  loopback address (tests, the simulator, a local TLS proxy).
* **Authentication.** The ``authorization`` metadata (``Bearer <token>`` or the bare token) is
  the streaming profile's secret, checked when the stream opens (callscope.ingest.auth):
  missing or wrong → ``UNAUTHENTICATED``, an address held back after failures →
  ``RESOURCE_EXHAUSTED``; a dialog whose account or product is not that profile's →
  ``PERMISSION_DENIED``. Nothing is stored for a refused stream.
* **Draining.** While the server drains (callscope.lifecycle) a new stream is refused with
  ``UNAVAILABLE`` before its token is checked; open dialogs go on.
* **Other refusals.** A first message that is not ``dialog_init`` → ``INVALID_ARGUMENT``; a
  codec callscope does not decode (OPUS, FLAC) → ``UNIMPLEMENTED``; too many streams from one
  address or in all (``grpc_max_streams``) → ``RESOURCE_EXHAUSTED``; while the node is fenced
  off its cluster → ``UNAVAILABLE``.
* **Ends.** The client closing its side ends the call as its segments say (``completed``
  when every segment stopped); a cancelled RPC is ``abandoned``; the idle sweeper and shutdown
  end the call and answer ``DEADLINE_EXCEEDED`` / ``UNAVAILABLE``; a node fencing itself off
  its cluster ends it ``interrupted`` and answers ``UNAVAILABLE``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import grpc
from google.protobuf import empty_pb2

from callscope.config import Settings
from callscope.errors import ConfigError, DialogRefused, IngestRefused
from callscope.forwarded import FIELDS, TrustedProxies, resolve
from callscope.ingest import IngestService
from callscope.ingest.auth import IngestAuth, StreamGrant
from callscope.ingest.dialog import DialogStream
from callscope.logsafe import clean
from callscope.store.models import CallStatus
from callscope.tls import key_pair

__all__ = ["METHOD", "SERVICE", "GrpcIngest", "client_address", "peer_address"]

logger = logging.getLogger("callscope.ingest")

SERVICE = "ringcentral.ringcx.streaming.v1beta2.Streaming"
METHOD = f"/{SERVICE}/Stream"
#: largest message accepted (a 1 s L16 chunk is 16 KB; the receiver caps payloads itself)
MAX_MESSAGE_BYTES = 64 * 1024
#: how often the dialogs' timelines are kept running while their streams pause (a hold)
TICK_S = 0.1

_STATUS_BY_HTTP = {401: "UNAUTHENTICATED", 403: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED"}
#: what an end decided elsewhere (idle sweeper, shutdown, fencing) answers, by close code
_STATUS_BY_CLOSE = {1001: "UNAVAILABLE", 1008: "ABORTED"}


def peer_address(peer: str) -> str:
    """The client address of a gRPC peer string (``ipv4:1.2.3.4:5``, ``ipv6:[::1]:5``)."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6" and rest.startswith("["):
        return rest[1 : rest.find("]")]
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    return peer or "?"


def client_address(peer: str, metadata: Any, trusted: TrustedProxies) -> str:
    """The dialog's client: its peer, or the client a trusted proxy names in the metadata
    (``x-forwarded-for`` or ``forwarded``, as nginx's ``grpc_set_header`` sends them; the
    rules are :mod:`callscope.forwarded`'s)."""
    if not trusted:
        return peer
    headers: dict[str, list[str]] = {}
    for key, value in metadata or ():
        if key.lower() in FIELDS:
            text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
            headers.setdefault(key.lower(), []).append(text)
    view = resolve(peer=peer, scheme="https", host="", headers=headers, trusted=trusted)
    return peer if view is None else view.remote


def _token(metadata: Any) -> str | None:
    for key, value in metadata or ():
        if key.lower() == "authorization":
            text = value.decode() if isinstance(value, bytes) else str(value)
            scheme, _, rest = text.strip().partition(" ")
            return rest.strip() if scheme.lower() == "bearer" and rest.strip() else text.strip()
    return None


class GrpcIngest:
    """The gRPC listener: start after the app has started, stop before it stops."""

    def __init__(self, service: IngestService, auth: IngestAuth, settings: Settings) -> None:
        self.service = service
        self.auth = auth
        self.settings = settings
        self.server: grpc.aio.Server | None = None
        self.port = 0
        #: open dialogs, ticked together by one timer (a task each would wake the event loop
        #: ten times a second per call)
        self._dialogs: set[DialogStream] = set()
        self._ticker: asyncio.Task[None] | None = None
        #: read now, before anything listens: a bad file fails the start with its name
        self._pair = key_pair(settings)
        self._trusted = settings.trusted_proxy_networks

    async def start(self) -> None:
        s = self.settings
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", 1024),
                ("grpc.keepalive_time_ms", 30_000),
                ("grpc.http2.max_pings_without_data", 0),
                ("grpc.keepalive_permit_without_calls", 1),
            ],
            maximum_concurrent_rpcs=s.grpc_max_streams,
        )
        handler = grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Stream": grpc.stream_unary_rpc_method_handler(
                    self.stream,
                    request_deserializer=None,  # raw bytes: the receiver counts bad ones
                    response_serializer=empty_pb2.Empty.SerializeToString,
                )
            },
        )
        server.add_generic_rpc_handlers((handler,))
        host = s.grpc_bind_host
        address = f"[{host}]:{s.grpc_port}" if ":" in host else f"{host}:{s.grpc_port}"
        try:  # older grpcio returns 0 when the address is taken, newer ones raise
            if self._pair is not None:
                credentials = grpc.ssl_server_credentials([self._pair])
                self.port = server.add_secure_port(address, credentials)
            else:
                self.port = server.add_insecure_port(address)
        except RuntimeError:
            self.port = 0
        if not self.port:
            raise ConfigError(
                f"gRPC listener: cannot bind {address}; is the port in use? "
                "(grpc_host, grpc_port; 0 turns the listener off)"
            )
        await server.start()
        self.server = server
        self._ticker = asyncio.create_task(self._tick(), name="grpc-dialog-ticks")
        logger.info(
            "RingCX gRPC streams: %s://%s (%s)",
            "grpcs" if s.tls_cert else "grpc",
            address,
            "TLS" if s.tls_cert else "plaintext, loopback only",
        )

    async def stop(self, grace_s: float = 2.0) -> None:
        if self.server is not None:
            await self.server.stop(grace_s)
            self.server = None
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None

    async def stream(self, requests: Any, context: grpc.aio.ServicerContext) -> Any:
        """One dialog, from its first message to its end."""
        peer = client_address(
            peer_address(context.peer()), context.invocation_metadata(), self._trusted
        )
        if not self.service.accepting:
            self.service.refused_total.inc(reason="draining")
            await context.abort(
                grpc.StatusCode.UNAVAILABLE,
                "the server is shutting down and takes no new streams: try again later",
            )
        if self.service.fenced is not None:  # cut off from its cluster: another node takes it
            self.service.refused_total.inc(reason="fenced")
            await context.abort(
                grpc.StatusCode.UNAVAILABLE, "this node is cut off from its cluster: retry"
            )
        try:
            grant = await self.auth.authenticate(_token(context.invocation_metadata()), {}, peer)
        except IngestRefused as exc:
            self.service.refused_total.inc(reason=exc.reason)
            code = _STATUS_BY_HTTP.get(exc.status, "UNAUTHENTICATED")
            await context.abort(grpc.StatusCode[code], exc.message)
        if not self.service.admit(peer):
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED, "too many open streams from this address"
            )
        try:
            return await self._dialog(requests, context, grant)
        finally:
            self.service.release(peer)

    async def _dialog(
        self, requests: Any, context: grpc.aio.ServicerContext, grant: StreamGrant
    ) -> Any:
        reader: asyncio.Task[None] | None = None
        ended: list[tuple[int, str]] = []

        async def close(code: int, reason: str) -> None:
            """Ended from outside the stream (idle sweeper, shutdown): stop reading."""
            ended.append((code, reason))
            if reader is not None:
                reader.cancel()

        dialog = DialogStream(self.service, self.auth, grant, close)
        call = dialog.call
        self.service.attach(call)
        refusal: tuple[grpc.StatusCode, str] | None = None
        status: CallStatus | None = CallStatus.ABANDONED
        reason = "the sender cancelled the stream"

        async def read() -> None:
            # context.read() rather than ``async for data in requests``: one async
            # generator step less per message (grpc.aio's iterator wraps read()); audio is
            # handled without a coroutine of its own (DialogStream.feed)
            feed, next_message, clock, eof = dialog.feed, context.read, time.monotonic, grpc.aio.EOF
            while (data := await next_message()) is not eof:
                pending = feed(data, clock())
                if pending is not None:
                    await pending

        self._dialogs.add(dialog)
        reader = asyncio.create_task(read())
        try:
            await reader
            status, reason = None, ""  # the client closed its side: as the segments say
        except asyncio.CancelledError:
            if not ended:
                raise  # the RPC itself was cancelled (the client went away)
        except DialogRefused as exc:
            self.service.refused_total.inc(reason="dialog")
            refusal = (grpc.StatusCode[exc.grpc_code], exc.reason)
            reason = f"refused: {exc.reason}"
        except IngestRefused as exc:
            self.service.refused_total.inc(reason=exc.reason)
            refusal = (grpc.StatusCode.PERMISSION_DENIED, exc.message)
            reason = f"refused: {exc.message}"
        finally:
            self._dialogs.discard(dialog)
            self.service.detach(call)
            if refusal is not None and not dialog.started:
                logger.warning("gRPC dialog refused: %s; nothing stored", clean(refusal[1]))
                dialog.receiver.finish()
            else:
                try:
                    await dialog.finish(status, reason)
                except Exception:  # the call's end must not hide the stream's answer
                    logger.exception("gRPC dialog: ending its call failed")
        if refusal is not None:
            await context.abort(*refusal)
        if ended:
            code, why = ended[0]
            answer = _STATUS_BY_CLOSE.get(code, "ABORTED")
            # said in the log too: a grpc.aio sender still writing when this status arrives
            # may see INTERNAL "Internal error from Core" in its place (grpc/grpc#36066)
            logger.info("gRPC dialog ended by this node: %s (%s)", answer, clean(why))
            await context.abort(grpc.StatusCode[answer], why)
        return empty_pb2.Empty()

    async def _tick(self) -> None:
        """Every ``TICK_S``, each open dialog's timeline (see :meth:`DialogStream.tick`)."""
        last = time.monotonic()
        while True:
            await asyncio.sleep(TICK_S)
            now = time.monotonic()
            elapsed_ms = round((now - last) * 1000)
            last = now
            for dialog in list(self._dialogs):
                try:
                    dialog.tick(elapsed_ms, now)
                except Exception:  # one dialog's failure must not stop the others' ticks
                    self._dialogs.discard(dialog)
                    logger.exception("gRPC dialog: its timeline stopped")
