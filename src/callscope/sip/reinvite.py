"""The phone's re-INVITE inside callscope's call to it, sans-I/O: hold, resume, or a new RTP
address or codec (RFC 3261 §14.2, RFC 3264 §8).

callscope answers with the same session (its ``o=`` version one higher), the codec the phone
offered first of PCMU and PCMA, and the direction that mirrors the phone's: a phone that holds
(``sendonly`` or ``inactive``) is sent no audio until it resumes, and the supervision goes on.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiosipua import SipRequest, SipResponse

from callscope.sip.link import SipCall
from callscope.sip.media import answer_sdp, direction_of, parse_answer
from callscope.sip.replies import reply

__all__ = ["Renegotiated", "renegotiate"]

#: the phone's direction → callscope's in its answer
_MIRROR = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}


@dataclass(frozen=True, slots=True)
class Renegotiated:
    """The final response to send: its status, reason and SDP answer (on 200)."""

    status: int
    reason: str
    sdp: bytes = b""

    def response(self, request: SipRequest, contact: str) -> SipResponse:
        """The final response to the re-INVITE ``request`` (callscope's ``contact``)."""
        response = reply(request, self.status, self.reason, Contact=contact)
        if self.sdp:
            response.headers.set_single("Content-Type", "application/sdp")
            response.body = self.sdp
        return response


def renegotiate(call: SipCall, offer: bytes, host: str) -> Renegotiated:
    """Apply the phone's re-INVITE offer to ``call`` and say what to answer."""
    rtp = call.rtp
    if call.ended or not call.answered or rtp is None or rtp.transport is None:
        return Renegotiated(491, "Request Pending")
    if call.answer is None:
        return Renegotiated(491, "Request Pending")
    if offer.strip():
        try:
            offered = parse_answer(offer)
        except ValueError:
            return Renegotiated(488, "Not Acceptable Here")
        direction = direction_of(offer)
    else:  # no offer: callscope offers what it has, the phone answers in its ACK
        offered, direction = call.answer, "sendrecv"
    call.answer = offered
    rtp.answer = offered
    call.held = direction in ("sendonly", "inactive")
    call.sdp_version += 1
    port = int(rtp.transport.get_extra_info("sockname")[1])
    sdp = answer_sdp(host, port, call.sdp_session, call.sdp_version, offered, _MIRROR[direction])
    return Renegotiated(200, "OK", sdp)
