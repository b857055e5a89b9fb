"""callscope's calls to supervisors' SIP phones (UDP, TCP or TLS, as each phone registered):
the INVITE when a supervision starts, its retransmissions and timeout, the ACK of the phone's
answer, BYE and CANCEL, and what the phone sends back on the call (its microphone, digits).

RFC 3261 §17.1.1 (INVITE client transaction: timer A doubling from T1, timer B), §9.1
(CANCEL), §15 (BYE). The audio of an answered call is paced by the node's RTP clock
(``callscope.sip.clock``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import TYPE_CHECKING, Any, Final

from aiosipua import SipMessage, SipRequest, SipResponse

from callscope.digits import is_digits
from callscope.errors import SupervisionRefused
from callscope.sip.clock import RtpClock
from callscope.sip.link import RtpEndpoint, SipCall, SipDeviceLink, mic_frames
from callscope.sip.media import offer, parse_answer
from callscope.sip.pacing import RtpPacer
from callscope.sip.replies import branch as _branch
from callscope.sip.replies import cancel_of, reply
from callscope.sip.tcp import SipTcp
from callscope.sip.transactions import ServerTransactions
from callscope.supervision.model import Supervision, SupervisionMode
from callscope.supervision.webphone import mic_frame

if TYPE_CHECKING:
    from callscope.supervision.service import SupervisionService

__all__ = ["INVITE_TIMEOUT_S", "PhoneCalls"]

logger = logging.getLogger("callscope.sip")

T1: Final = 0.5  # RFC 3261 retransmission interval
#: RFC 3261 timer B (64 × T1): how long a phone may ring before callscope gives up
INVITE_TIMEOUT_S: Final = 32.0
DIGIT_MODES: Final = {
    "4": SupervisionMode.LISTEN,
    "5": SupervisionMode.COACH,
    "6": SupervisionMode.BARGE,
}


class PhoneCalls:
    """The user-agent half of :class:`~callscope.sip.agent.SipAgent` (its registrar is the
    other): the SIP calls it places to registered phones."""

    service: SupervisionService
    host: str
    port: int
    tls_port: int
    transport: asyncio.DatagramTransport | None
    tcp: SipTcp
    tls: SipTcp | None
    calls: dict[str, tuple[SipDeviceLink, SipCall]]
    clock: RtpClock
    invite_timeout_s: float
    transactions: ServerTransactions

    # -- how a phone is reached ----------------------------------------------------------------
    def _send(self, message: SipMessage | bytes, addr: tuple[str, int]) -> None:
        data = message if isinstance(message, bytes) else bytes(message)
        if isinstance(message, SipResponse):  # a copy of the request gets it again
            self.transactions.answered(message, data, addr)
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
        timeout = self.invite_timeout_s
        self._retransmit(link, call, call.invite, T1, loop.time() + timeout)
        loop.call_later(timeout, self._unanswered, link, call)

    def _unanswered(self, link: SipDeviceLink, call: SipCall) -> None:
        """Ringing (or silent) for ``invite_timeout_s``: callscope gives up (CANCEL)."""
        if not call.answered and not call.ended:
            self._hang_up(link, call)
            self._gone(link, call, "the phone did not answer", "NoAnswer")

    async def _display(self, link: SipDeviceLink, started: dict[str, Any]) -> str:
        """Who is being monitored, as the phone shows the caller."""
        record = self.service.core.devices.get(link.id)
        sup = record.supervisions.get(started["callId"]) if record is not None else None
        # the call's agent now, or as the call's node said (a call of another node)
        said = str(started.get("agentExtensionId") or "")
        agent = (
            sup.call.agent_extension if sup is not None else int(said) if is_digits(said) else None
        )
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
            self._gone(link, call, "the phone did not answer", "NoAnswer")
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
            self._gone(link, call, f"the phone declined ({response.status_code})", "Rejected")
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
        call.pacer = RtpPacer(
            codec=answer.codec,
            ssrc=secrets.randbits(32),
            sequence=secrets.randbelow(0x10000),
            timestamp=secrets.randbits(32),
        )
        self.clock.add(link, call)
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
        self.clock.discard(call)
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
        self.clock.discard(call)
        if call.retransmit is not None:
            call.retransmit.cancel()
        if call.rtp is not None:
            call.rtp.close()
        self.calls.pop(call.call_id, None)
        if link.calls.get(call.stream) is call:
            del link.calls[call.stream]

    def _gone(
        self, link: SipDeviceLink, call: SipCall, why: str, party_reason: str = "CallFinished"
    ) -> None:
        """The phone hung up, declined or never answered this call: the supervision it
        carried ends (its other calls go on); its supervisor party leaves with the
        RingCentral status reason ``party_reason``."""
        sup = self._supervision(link, call)
        self._forget(link, call)
        if sup is not None:
            end = self.service.core.end(sup.call_id, why, party_reason=party_reason)
            self.service.run(end)
        else:  # a call another node carries: that node ends it
            self.service.relay.end_stream(link, call.stream, why, party_reason)
        logger.info("SIP phone %s: supervision ended (%s)", link.id, why)

    def _supervision(self, link: SipDeviceLink, call: SipCall) -> Supervision | None:
        record = self.service.core.devices.get(link.id)
        stream = record.streams.get(call.stream) if record is not None else None
        return stream.supervision if stream is not None else None

    def _device_bye(self, request: SipRequest, peer: tuple[str, int]) -> None:
        entry = self.calls.get(request.call_id or "")
        if entry is None or not self._in_dialog(request, peer, *entry):
            self._send(reply(request, 481, "Call/Transaction Does Not Exist"), peer)
            return
        self._send(reply(request, 200, "OK"), peer)
        self._gone(*entry, "the phone hung up")

    @staticmethod
    def _in_dialog(
        request: SipRequest, peer: tuple[str, int], link: SipDeviceLink, call: SipCall
    ) -> bool:
        """A request of the phone's dialog (RFC 3261 §12.2.2: Call-ID and both tags), from the
        address it registered from: a re-INVITE moves the call's audio and a BYE ends the
        supervision, so one that merely knows the Call-ID must do neither."""
        sender, to = request.from_addr, request.to_addr
        return (
            peer[0] == link.contact[0]
            and sender is not None
            and to is not None
            and bool(call.remote_tag)
            and sender.params.get("tag") == call.remote_tag
            and to.params.get("tag") == call.local_tag
        )

    # -- what the phone sends ------------------------------------------------------------------

    def _microphone(self, link: SipDeviceLink, call: SipCall, pcm: bytes) -> None:
        """The phone's voice on this call: into this call's supervision only (on the node
        that carries the call)."""
        for frame in mic_frames(pcm, call.stream):
            raw = mic_frame(frame.pcm, stream=frame.stream)  # as a web phone's, for the relay
            self.service.spawn(self.service.microphone(link, frame, raw))

    def _digit(self, link: SipDeviceLink, call: SipCall, digit: str) -> None:
        mode = DIGIT_MODES.get(digit)
        if mode is None:
            return
        sup = self._supervision(link, call)
        if sup is None:
            self.service.relay.set_mode(link, call.stream, mode)  # another node's call
            return
        try:
            self.service.run(self.service.core.set_mode(sup, mode))
        except SupervisionRefused as exc:
            logger.info("SIP phone %s: digit %s refused: %s", link.id, digit, exc)
