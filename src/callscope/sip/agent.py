"""The SIP side of callscope (UDP): a registrar for supervisors' phones, and the calls it
makes to them when they supervise.

REGISTER is answered with a digest challenge (``callscope.sip.digest``); wrong passwords are
counted per source address and per username by the login throttle
(``callscope.identity.throttle``), and a guesser over budget is answered 503 with Retry-After
(RFC 3261 §21.5.4) without its password being checked. A phone that proves its account's
password is Online and can be a ``supervisorDeviceId`` until its registration
expires or it unregisters. Supervision then INVITEs it (``callscope.sip.calls``); its BYE
cancels what the device supervises, as Genesys ``CancelSupervisorMonitoring`` does.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import TYPE_CHECKING, Any, Final

from aiosipua import SipMessage, SipRequest, SipResponse, stringify_uri

from callscope.identity.throttle import LoginThrottle, Outcome, username_key
from callscope.sip.accounts import SipAccounts
from callscope.sip.calls import INVITE_TIMEOUT_S, PhoneCalls
from callscope.sip.clock import RtpClock
from callscope.sip.digest import Digest, DigestError, challenge
from callscope.sip.link import SipCall, SipDeviceLink
from callscope.sip.reinvite import renegotiate
from callscope.sip.replies import expires as _expires
from callscope.sip.replies import reply
from callscope.sip.replies import username as _username
from callscope.sip.tcp import SipTcp
from callscope.sip.transactions import ServerTransactions

if TYPE_CHECKING:
    from callscope.store.models import Device, SipCredential
    from callscope.supervision.service import SupervisionService

__all__ = ["SipAgent"]

logger = logging.getLogger("callscope.sip")

MIN_EXPIRES: Final = 60
MAX_EXPIRES: Final = 3600
ALLOW: Final = "INVITE, ACK, BYE, CANCEL, OPTIONS"


class SipAgent(PhoneCalls, asyncio.DatagramProtocol):
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
        throttle: LoginThrottle | None = None,
        invite_timeout_s: float = INVITE_TIMEOUT_S,
    ) -> None:
        if invite_timeout_s <= 0:
            raise ValueError(f"invite_timeout_s {invite_timeout_s}: must be > 0 (RFC 3261: 32)")
        self.service = service
        self.accounts = accounts
        self.host = host
        self.port = port
        self.digest = Digest.new(realm)
        self.transport: asyncio.DatagramTransport | None = None
        self.calls: dict[str, tuple[SipDeviceLink, SipCall]] = {}  # by Call-ID
        self.links: dict[int, SipDeviceLink] = {}  # device id → its registration
        self.refused = 0
        #: REGISTER attempts per source address and per SIP username (the login throttle's)
        self.throttle = throttle or LoginThrottle()
        self.invite_timeout_s = invite_timeout_s
        self.clock = RtpClock()
        #: requests being handled or answered lately: a phone's retransmission is absorbed
        self.transactions = ServerTransactions()
        #: one registration at a time goes Online (two in flight would both find it free)
        self._registering = asyncio.Lock()
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
        await self.clock.stop()
        await self.tcp.stop()
        if self.tls is not None:
            await self.tls.stop()
        if self.transport is not None:
            self.transport.close()

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
            new, answer = self.transactions.begin(message, peer)
            if new:
                self.service.spawn(self._on_request(message, peer))
            elif answer is not None:  # a retransmission: the answer it missed, again
                self._send(answer, peer)

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
            elif not self._in_dialog(request, peer, *entry):
                self._send(reply(request, 481, "Call/Transaction Does Not Exist"), peer)
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
        found = await self._authenticate(request, peer, header)
        if found is None:
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
            stringify_uri(contacts[0].uri)
            if contacts
            else f"sip:{credential.username}@{peer[0]}:{peer[1]}"
        )
        async with self._registering:
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

    async def _authenticate(
        self, request: SipRequest, peer: tuple[str, int], header: str
    ) -> tuple[SipCredential, Device] | None:
        """The account whose password the REGISTER's digest proves, or None (answered).

        Attempts pass the login throttle first, per source address and per username; one
        over budget is answered 503 with Retry-After (RFC 3261 §21.5.4) unchecked."""
        try:
            username = _username(header)
        except DigestError as exc:
            self._send(reply(request, 400, f"Bad Request: {exc}"), peer)
            return None
        key = username_key(username)
        refusal = self.throttle.admit(peer[0], key)
        if refusal is not None:
            self.refused += 1
            logger.info("SIP REGISTER of %r from %s held back (%s)", key, peer[0], refusal.reason)
            retry = str(refusal.retry_after_s)
            busy = "Service Unavailable: too many failed registrations"
            self._send(reply(request, 503, busy, Retry_After=retry), peer)
            return None
        outcome = Outcome.OTHER
        try:
            found = await self.accounts.lookup(username)
            verdict = self.digest.verify(header, "REGISTER", found[0].ha1) if found else "wrong"
            to = request.to_addr
            if found is None or verdict != "ok" or to is None or to.uri.user != username:
                self.refused += 1
                if found is not None and verdict == "stale":  # old nonce, or a replay: again
                    www = challenge(self.digest, stale=True)
                    self._send(reply(request, 401, "Unauthorized", WWW_Authenticate=www), peer)
                else:
                    outcome = Outcome.FAILURE
                    wrong = "Forbidden: wrong SIP username or password"
                    self._send(reply(request, 403, wrong), peer)
                return None
            outcome = Outcome.SUCCESS
            return found
        except DigestError as exc:
            self._send(reply(request, 400, f"Bad Request: {exc}"), peer)
            return None
        finally:
            self.throttle.done(peer[0], key, outcome)

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
