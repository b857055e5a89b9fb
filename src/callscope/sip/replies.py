"""Building blocks of SIP messages the agent sends: responses, branches, and what a REGISTER
says (its username, its expiry)."""

from __future__ import annotations

import secrets

from aiosipua import SipMessage, SipRequest, SipResponse

from callscope.sip.digest import credentials

__all__ = ["branch", "cancel_of", "expires", "reply", "username"]


def branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


def reply(request: SipRequest, status: int, reason: str, **headers: str) -> SipResponse:
    """A response to ``request`` (its Via, From, To, Call-ID and CSeq copied)."""
    response = SipResponse(status_code=status, reason_phrase=reason)
    for via in request.headers.get("Via"):
        response.headers.append("Via", via)
    for name in ("From", "To", "Call-ID", "CSeq"):
        value = request.headers.get_first(name)
        if value is not None:
            response.headers.set_single(name, value)
    to = response.headers.get_first("To")
    if to is not None and ";tag=" not in to and status > 100:
        response.headers.set_single("To", f"{to};tag={secrets.token_hex(6)}")
    response.headers.set_single("Server", "callscope")
    for name, value in headers.items():
        response.headers.set_single(name.replace("_", "-"), value)
    return response


def username(header: str) -> str:
    return credentials(header)["username"]


def expires(request: SipRequest) -> int:
    contacts = request.contact
    value = contacts[0].params.get("expires") if contacts else None
    value = value or request.headers.get_first("Expires") or "3600"
    try:
        return max(0, int(value))
    except ValueError:
        return 3600


def cancel_of(invite: bytes, cseq: int) -> SipRequest:
    """The CANCEL of an INVITE not yet answered (RFC 3261 §9.1: its Via, From, To, Call-ID
    and CSeq number)."""
    parsed = SipMessage.parse(invite)
    assert isinstance(parsed, SipRequest)
    cancel = SipRequest(method="CANCEL", uri=parsed.uri)
    for name in ("Via", "From", "To", "Call-ID"):
        value = parsed.headers.get_first(name)
        if value is not None:
            cancel.headers.set_single(name, value)
    cancel.headers.set_single("CSeq", f"{cseq} CANCEL")
    cancel.headers.set_single("Max-Forwards", "70")
    return cancel
