"""The SIP side of callscope (UDP): a registrar for supervisors' phones, and the calls it
makes to them when they supervise.

REGISTER is answered with a digest challenge (``callscope.sip.digest``); a phone that proves
its account's password is Online and can be a ``supervisorDeviceId`` until its registration
expires or it unregisters. Supervision then INVITEs it (``callscope.sip.link``); its BYE
cancels what the device supervises, as Genesys ``CancelSupervisorMonitoring`` does.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import ssl
from typing import TYPE_CHECKING, Any, Final

from aiosipua import SipMessage, SipRequest, SipResponse, stringify_uri

from callscope.errors import SupervisionRefused
from callscope.sip.accounts import SipAccounts
from callscope.sip.digest import Digest, DigestError, challenge
from callscope.sip.link import RtpEndpoint, SipCall, SipDeviceLink, mic_frames
from callscope.sip.media import offer, parse_answer
from callscope.sip.reinvite import renegotiate
from callscope.sip.replies import branch as _branch
from callscope.sip.replies import cancel_of, reply
from callscope.sip.replies import expires as _expires
from callscope.sip.replies import username as _username
from callscope.sip.tcp import SipTcp
from callscope.supervision.model import Supervision, SupervisionMode

if TYPE_CHECKING:
    from callscope.supervision.service import SupervisionService

__all__ = ["SipAgent"]

logger = logging.getLogger("callscope.sip")

MIN_EXPIRES: Final = 60
MAX_EXPIRES: Final = 3600
T1: Final = 0.5  # RFC 3261 retransmission interval
INVITE_TIMEOUT_S: Final = 32.0
DIGIT_MODES: Final = {
    "4": SupervisionMode.LISTEN,
    "5": SupervisionMode.COACH,
    "6": SupervisionMode.BARGE,
}
ALLOW: Final = "INVITE, ACK, BYE, CANCEL, OPTIONS"


class SipAgent(asyncio.DatagramProtocol):
    """The registrar and user agent on one UDP socket."""

    def __init__(
        self,
        service: SupervisionService,
        accounts: SipAccounts,
        host: str,
        port: int,
        realm: str,
        *,
        tls: ssl.SSLContext | None = None,
        tls_port: int = 0,
    ) -> None:
        self.service = service
        self.accounts = accounts
        self.host = host
        self.port = port
        self.digest = Digest.new(realm)
        self.transport: asyncio.DatagramTransport | None = None
        self.calls: dict[str, tuple[SipDeviceLink, SipCall]] = {}  # by Call-ID
        self.links: dict[int, SipDeviceLink] = {}  # device id → its registration
        self.refused = 0
        self.tcp = SipTcp(
            lambda data, peer: self.datagram_received(data, peer), self._connection_closed
        )
        #: SIP over TLS (sips), with the server's tls_cert
        self.tls = (
            SipTcp(lambda data, peer: self.datagram_received(data, peer), self._connection_closed)
            if tls is not None
            else None
        )
        self.tls_context = tls
        self.tls_port = tls_port

    # -- life ----------------------------------------------------------------------------------

    async def start(self) -> None:
        # a crash left registrations that no longer hold (in a cluster: this node's)
        await self.accounts.all_offline(self.service.node_id)
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=(self.host, self.port)
        )
        self.transport = transport
        self.port = transport.get_extra_info("sockname")[1]
        await self.tcp.start(self.host, self.port)  # TCP on the same port
        logger.info("SIP registrar on udp and tcp %s:%d", self.host, self.port)
        if self.tls is not None:
            await self.tls.start(self.host, self.tls_port, self.tls_context)
            logger.info("SIP registrar on tls %s:%d", self.host, self.tls_port)

    async def stop(self) -> None:
        for link in list(self.links.values()):
            await self._unregister(link)
        await self.tcp.stop()
        if self.tls is not None:
            await self.tls.stop()
        if self.transport is not None:
            self.transport.close()

    def _send(self, message: SipMessage | bytes, addr: tuple[str, int]) -> None:
        data = message if isinstance(message, bytes) else bytes(message)
        if self.tcp.send(data, addr) or (self.tls is not None and self.tls.send(data, addr)):
            return
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, addr)

    def _kind(self, addr: tuple[str, int]) -> str:
        """How the phone at ``addr`` is connected: UDP, TCP or TLS."""
        if addr in self.tcp.writers:
            return "TCP"
        return "TLS" if self.tls is not None and addr in self.tls.writers else "UDP"

    def _via(self, addr: tuple[str, int], branch: str) -> str:
        kind = self._kind(addr)
        port = self.tls_port if kind == "TLS" else self.port
        return f"SIP/2.0/{kind} {self.host}:{port};branch={branch};rport"

    def _contact(self, addr: tuple[str, int]) -> str:
        """callscope's Contact for the phone at ``addr`` (its requests come back the same way)."""
        kind = self._kind(addr)
        if kind == "TLS":
            return f"<sips:callscope@{self.host}:{self.tls_port};transport=tls>"
        if kind == "TCP":
            return f"<sip:callscope@{self.host}:{self.port};transport=tcp>"
        return f"<sip:callscope@{self.host}:{self.port}>"

    def _connection_closed(self, peer: tuple[str, int]) -> None:
        """A TCP connection closed: the registrations it carried end."""
        for link in [x for x in self.links.values() if x.contact == peer]:
            self.service.spawn(self._unregister(link))

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if data.strip() == b"":
            return  # keep-alive (RFC 5626 CRLF)
        try:
            message = SipMessage.parse(data)
        except ValueError as exc:
            logger.debug("unreadable SIP datagram from %s: %s", addr[0], exc)
            return
        peer = (str(addr[0]), int(addr[1]))
        if isinstance(message, SipResponse):
            self._on_response(message, peer)
        elif message.method == "ACK":
            return
        else:
            self.service.spawn(self._on_request(message, peer))

    async def _on_request(self, request: SipRequest, peer: tuple[str, int]) -> None:
        method = request.method
        if method == "REGISTER":
            await self._register(request, peer)
        elif method == "OPTIONS":
            self._send(reply(request, 200, "OK", Allow=ALLOW), peer)
        elif method == "BYE":
            self._device_bye(request, peer)
        elif method == "INVITE":
            entry = self.calls.get(request.call_id or "")
            if entry is None:  # callscope calls supervisors; it places no calls for them
                self._send(reply(request, 403, "Forbidden: callscope calls you"), peer)
            else:  # a re-INVITE inside callscope's call: hold, resume, a new address
                result = renegotiate(entry[1], request.body or b"", self.host)
                self._send(result.response(request, self._contact(peer)), peer)
        elif method == "CANCEL":
            self._send(reply(request, 481, "Call/Transaction Does Not Exist"), peer)
        else:
            self._send(reply(request, 405, "Method Not Allowed", Allow=ALLOW), peer)

    # -- the registrar -------------------------------------------------------------------------

    async def _register(self, request: SipRequest, peer: tuple[str, int]) -> None:
        header = request.headers.get_first("Authorization")
        if header is None:
            self._send(
                reply(request, 401, "Unauthorized", WWW_Authenticate=challenge(self.digest)), peer
            )
            return
        try:
            username = _username(header)
            found = await self.accounts.lookup(username)
            verdict = self.digest.verify(header, "REGISTER", found[0].ha1) if found else "wrong"
        except DigestError as exc:
            self._send(reply(request, 400, f"Bad Request: {exc}"), peer)
            return
        to = request.to_addr
        if found is None or verdict != "ok" or to is None or to.uri.user != username:
            self.refused += 1
            if found is not None and verdict == "stale":  # old nonce, or a replay: again
                www = challenge(self.digest, stale=True)
                self._send(reply(request, 401, "Unauthorized", WWW_Authenticate=www), peer)
            else:
                self._send(reply(request, 403, "Forbidden: wrong SIP username or password"), peer)
            return
        credential, device = found
        if credential.realm != self.digest.realm:
            self._send(reply(request, 403, "Forbidden: account of another realm"), peer)
            return
        expires = _expires(request)
        if expires == 0:
            link = self.links.get(device.id)
            if link is not None:
                await self._unregister(link)
            self._send(reply(request, 200, "OK"), peer)
            return
        if expires < MIN_EXPIRES:
            self._send(
                reply(request, 423, "Interval Too Brief", Min_Expires=str(MIN_EXPIRES)), peer
            )
            return
        expires = min(expires, MAX_EXPIRES)
        contacts = request.contact
        contact_uri = (
            stringify_uri(contacts[0].uri) if contacts else f"sip:{username}@{peer[0]}:{peer[1]}"
        )
        link = await self._online(device, peer, contact_uri)
        if link is None:
            self._send(reply(request, 403, "Forbidden: the device is in use"), peer)
            return
        loop = asyncio.get_running_loop()
        if link.expires is not None:
            link.expires.cancel()
        link.expires = loop.call_later(expires, lambda: self.service.spawn(self._unregister(link)))
        self._send(
            reply(
                request,
                200,
                "OK",
                Contact=f"<{contact_uri}>;expires={expires}",
                Expires=str(expires),
            ),
            peer,
        )

    async def _online(
        self, device: Any, peer: tuple[str, int], contact_uri: str
    ) -> SipDeviceLink | None:
        service = self.service
        link = self.links.get(device.id)
        if link is not None:  # a refresh (perhaps from a new address)
            link.contact, link.contact_uri = peer, contact_uri
            return link
        if device.id in service.devices:
            return None
        owner = await service.directory.get_extension(device.account_id, device.extension_id)
        if owner is None:
            return None
        if not await service.directory.set_device_status(device.id, "Online", service.node_id):
            return None
        device.status = "Online"
        link = SipDeviceLink(
            device,
            owner,
            contact=peer,
            contact_uri=contact_uri,
            invite=self._invite,
            hang_up=self._hang_up,
        )
        link.delay = service.listen_delay
        self.links[device.id] = link
        service.devices[device.id] = link
        service.run(service.core.add_device(link.view))
        logger.info("SIP phone %s of extension %s registered", device.id, owner.extension_number)
        return link

    async def _unregister(self, link: SipDeviceLink) -> None:
        if self.links.get(link.id) is link:
            del self.links[link.id]
            await self.service.disconnect(link)  # supervisions end, Offline
            logger.info("SIP phone %s unregistered", link.id)

    # -- calls to the phone --------------------------------------------------------------------

    def _invite(self, link: SipDeviceLink, started: dict[str, Any]) -> None:
        call_id = f"{secrets.token_hex(12)}@callscope"
        tag = secrets.token_hex(6)
        rtp = RtpEndpoint(
            lambda pcm: self._microphone(link, call, pcm),
            lambda digit: self._digit(link, call, digit),
        )
        call = SipCall(call_id, tag, _branch(), b"", int(started["stream"]), rtp=rtp)
        link.calls[call.stream] = call
        self.calls[call_id] = (link, call)
        self.service.spawn(self._place(link, call, started))

    async def _place(self, link: SipDeviceLink, call: SipCall, started: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        rtp = call.rtp
        assert rtp is not None
        transport, _ = await loop.create_datagram_endpoint(lambda: rtp, local_addr=(self.host, 0))
        rtp.transport = transport
        rtp_port = transport.get_extra_info("sockname")[1]
        display = await self._display(link, started)
        if call.ended:  # hung up before it was placed (the supervision already ended)
            rtp.close()
            return
        request = self._request(
            link, call, "INVITE", body=offer(self.host, rtp_port, call.sdp_session)
        )
        request.headers.set_single(
            "From", f'"{display}" <sip:callscope@{self.host}:{self.port}>;tag={call.local_tag}'
        )
        request.headers.set_single("Content-Type", "application/sdp")
        request.headers.set_single("Subject", display)
        call.invite = bytes(request)
        self._retransmit(link, call, call.invite, T1, loop.time() + INVITE_TIMEOUT_S)
        loop.call_later(INVITE_TIMEOUT_S, self._unanswered, link, call)

    def _unanswered(self, link: SipDeviceLink, call: SipCall) -> None:
        """Ringing (or silent) for ``INVITE_TIMEOUT_S``: callscope gives up (CANCEL)."""
        if not call.answered and not call.ended:
            self._hang_up(link, call)
            self._gone(link, call, "the phone did not answer")

    async def _display(self, link: SipDeviceLink, started: dict[str, Any]) -> str:
        """Who is being monitored, as the phone shows the caller."""
        record = self.service.core.devices.get(link.id)
        sup = record.supervisions.get(started["callId"]) if record is not None else None
        agent = sup.call.agent_extension if sup is not None else None
        ext = (
            await self.service.directory.get_extension(link.device.account_id, agent)
            if agent
            else None
        )
        who = f"{ext.name} ({ext.extension_number})" if ext is not None else "a call"
        return f"{started['mode']}: {who}"[:80].replace('"', "'")

    def _request(
        self, link: SipDeviceLink, call: SipCall, method: str, body: bytes = b""
    ) -> SipRequest:
        request = SipRequest(method=method, uri=link.contact_uri, body=body)
        h = request.headers
        h.set_single("Via", self._via(link.contact, call.branch))
        h.set_single("Max-Forwards", "70")
        h.set_single("From", f"<sip:callscope@{self.host}:{self.port}>;tag={call.local_tag}")
        to = f"<sip:cs{link.id}@{self.host}>"
        h.set_single("To", to + (f";tag={call.remote_tag}" if call.remote_tag else ""))
        h.set_single("Call-ID", call.call_id)
        h.set_single("CSeq", f"{call.cseq} {method}")
        h.set_single("Contact", self._contact(link.contact))
        h.set_single("User-Agent", "callscope")
        return request

    def _retransmit(
        self, link: SipDeviceLink, call: SipCall, data: bytes, interval: float, deadline: float
    ) -> None:
        """Send ``data`` and again (doubling, RFC 3261 timer A/E) until answered or too late."""
        loop = asyncio.get_running_loop()
        if loop.time() >= deadline:
            logger.info("SIP phone %s did not answer", link.id)
            self._gone(link, call, "the phone did not answer")
            return
        self._send(data, link.contact)
        call.retransmit = loop.call_later(
            interval, self._retransmit, link, call, data, min(interval * 2, 4.0), deadline
        )

    def _on_response(self, response: SipResponse, peer: tuple[str, int]) -> None:
        entry = self.calls.get(response.call_id or "")
        cseq = response.cseq
        if entry is None or cseq is None:
            return
        link, call = entry
        if response.status_code < 200:
            if call.retransmit is not None:
                call.retransmit.cancel()  # it rings: wait (the phone answers or declines)
            return
        if call.retransmit is not None:
            call.retransmit.cancel()
        if cseq.method == "INVITE":
            self._invite_answered(link, call, response)
        elif cseq.method == "BYE":
            self._forget(link, call)

    def _invite_answered(self, link: SipDeviceLink, call: SipCall, response: SipResponse) -> None:
        to = response.to_addr
        if to is not None and to.params.get("tag"):
            call.remote_tag = str(to.params["tag"])
        ack = self._request(link, call, "ACK")
        ack.headers.set_single("CSeq", f"{call.cseq} ACK")
        if response.status_code >= 300:
            self._send(ack, link.contact)  # same branch: it acknowledges the refusal
            self._gone(link, call, f"the phone declined ({response.status_code})")
            return
        ack.headers.set_single("Via", self._via(link.contact, _branch()))
        self._send(ack, link.contact)
        if call.answered:
            return  # a retransmitted 200 OK: acknowledged again
        try:
            answer = parse_answer(response.body)
        except ValueError as exc:
            logger.warning("SIP phone %s: %s", link.id, exc)
            self._bye(link, call)
            self._gone(link, call, str(exc))
            return
        call.answer = answer
        if call.rtp is not None:
            call.rtp.answer = answer
            call.rtp.phone_host = link.contact[0]
        call.answered = True
        logger.info("SIP phone %s answered (%s)", link.id, answer.codec.name)

    def _hang_up(self, link: SipDeviceLink, call: SipCall) -> None:
        if call.ended:
            return
        if call.answered:
            self._bye(link, call)
        else:
            self._forget(link, call)
            if call.invite:
                self._send(cancel_of(call.invite, call.cseq), link.contact)

    def _bye(self, link: SipDeviceLink, call: SipCall) -> None:
        call.ended = True
        call.cseq += 1
        call.branch = _branch()
        if call.rtp is not None:
            call.rtp.close()
        bye = bytes(self._request(link, call, "BYE"))
        loop = asyncio.get_running_loop()
        if call.retransmit is not None:
            call.retransmit.cancel()
        self._send(bye, link.contact)
        call.retransmit = loop.call_later(T1, self._bye_again, link, call, bye, T1 * 2, 6)

    def _bye_again(
        self, link: SipDeviceLink, call: SipCall, bye: bytes, interval: float, left: int
    ) -> None:
        if left == 0:
            self._forget(link, call)
            return
        self._send(bye, link.contact)
        loop = asyncio.get_running_loop()
        call.retransmit = loop.call_later(
            interval, self._bye_again, link, call, bye, min(interval * 2, 4.0), left - 1
        )

    def _forget(self, link: SipDeviceLink, call: SipCall) -> None:
        call.ended = True
        if call.retransmit is not None:
            call.retransmit.cancel()
        if call.rtp is not None:
            call.rtp.close()
        self.calls.pop(call.call_id, None)
        if link.calls.get(call.stream) is call:
            del link.calls[call.stream]

    def _gone(self, link: SipDeviceLink, call: SipCall, why: str) -> None:
        """The phone hung up, declined or never answered this call: the supervision it
        carried ends (its other calls go on)."""
        self._forget(link, call)
        sup = self._supervision(link, call)
        if sup is not None:
            self.service.run(self.service.core.end(sup.call_id, why))
        logger.info("SIP phone %s: supervision ended (%s)", link.id, why)

    def _supervision(self, link: SipDeviceLink, call: SipCall) -> Supervision | None:
        record = self.service.core.devices.get(link.id)
        stream = record.streams.get(call.stream) if record is not None else None
        return stream.supervision if stream is not None else None

    def _device_bye(self, request: SipRequest, peer: tuple[str, int]) -> None:
        entry = self.calls.get(request.call_id or "")
        if entry is None:
            self._send(reply(request, 481, "Call/Transaction Does Not Exist"), peer)
            return
        self._send(reply(request, 200, "OK"), peer)
        self._gone(*entry, "the phone hung up")

    # -- what the phone sends ------------------------------------------------------------------

    def _microphone(self, link: SipDeviceLink, call: SipCall, pcm: bytes) -> None:
        """The phone's voice on this call: into this call's supervision only."""
        for frame in mic_frames(pcm, call.stream):
            self.service.spawn(self.service.microphone(link, frame))

    def _digit(self, link: SipDeviceLink, call: SipCall, digit: str) -> None:
        mode = DIGIT_MODES.get(digit)
        sup = self._supervision(link, call)
        if mode is None or sup is None:
            return
        try:
            self.service.run(self.service.core.set_mode(sup, mode))
        except SupervisionRefused as exc:
            logger.info("SIP phone %s: digit %s refused: %s", link.id, digit, exc)
