"""``/restapi/v1.0/subscription``: push-notification subscriptions (spec §8.1).

A subscription belongs to the token's extension and app. WebHook targets pass the
Validation-Token handshake before the subscription exists (SUB-525 otherwise). Filters are
validated and echoed with ``~`` resolved (SUB-508 invalid, SUB-406 another account's). At
most 30 subscriptions per user per app (SUB-505). An expired subscription answers 404
SUB-507 and receives nothing.

A well-formed filter callscope produces nothing for (``…/message-store/instant?type=SMS``,
which RingCentral's ``webhook-notification.py`` sample subscribes) does not fail the
request: it is kept, left out of ``eventFilters`` and listed in ``disabledFilters`` as
``{filter, reason, message}`` (spec §8.1, the spec's DisabledFilterInfo), and the other
filters are delivered. A subscription whose filters are all disabled is still created
(200, ``eventFilters: []``): RingCentral lists such filters rather than refusing them, and
a sample that subscribes one supported and one unsupported filter must not fail on the
second. UNCONFIRMED: RingCentral's ``reason`` values (callscope says ``NotSupported``, with
the why in ``message``), whether it also keeps a disabled filter in ``eventFilters`` (the
spec describes eventFilters as what the user is subscribed to and disabledFilters as what
it is not: callscope lists each in one of them) and whether it refuses a subscription left
with no filter at all.


A WebHook address that leads to no public address (``events/targets.py``) is refused with
CMN-101 before anything is sent to it. Why a handshake failed — refused, timed out, which
status — goes to the server log only: the caller gets one SUB-525 message whatever the
cause, or the API would tell which hosts and ports answer inside the network.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from aiohttp import web

from callscope.api.auth import caller, may_watch
from callscope.api.errors import ApiError, json_response, not_found, read_json
from callscope.api.proxy import public_origin
from callscope.api.subscription_views import BASE, new_subscription, subscription_json
from callscope.errors import WebhookTargetRefused
from callscope.events.delivery import Dispatcher
from callscope.events.filters import (
    EventFilter,
    FilterError,
    ForeignAccount,
    Unsupported,
    parse_filter,
)
from callscope.events.targets import TargetPolicy
from callscope.events.webhook import WebhookClient, check_address, handshake, origin_of
from callscope.identity.model import AuthContext, aware
from callscope.store.directory import DirectoryRepository
from callscope.store.models import Subscription
from callscope.store.repo import utcnow
from callscope.store.subscriptions import SubscriptionRepository

__all__ = [
    "HANDSHAKE_FAILED",
    "MAX_PER_USER_APP",
    "NOT_PUBLIC",
    "OWN_SERVER",
    "SubscriptionsApi",
]

logger = logging.getLogger("callscope.events")

MAX_PER_USER_APP = 30
DEFAULT_EXPIRES_IN_S = 604_800  # a week (older RingCentral material)
MAX_EXPIRES_IN_S = 315_360_000  # ten years, the WebHook maximum
#: the one SUB-525 message, whatever the cause (which is logged)
HANDSHAKE_FAILED = (
    "WebHook server response is invalid: the target did not complete the Validation-Token handshake"
)
NOT_PUBLIC = (
    "Parameter [deliveryMode.address] value is invalid: it is not a public address "
    "(loopback, private and link-local targets are for labs: events_webhook_allow_private)"
)
OWN_SERVER = (
    "Parameter [deliveryMode.address] value is invalid: it is this server's own address "
    "(refused even with events_webhook_allow_private)"
)


class SubscriptionsApi:
    def __init__(
        self,
        subscriptions: SubscriptionRepository,
        directory: DirectoryRepository,
        dispatcher: Dispatcher,
        *,
        targets: TargetPolicy | None = None,
    ):
        self.subscriptions = subscriptions
        self.directory = directory
        self.dispatcher = dispatcher
        self.webhooks = WebhookClient(targets or TargetPolicy())

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(BASE, self.create),
            web.get(BASE, self.list),
            web.get(BASE + "/{id}", self.get),
            web.put(BASE + "/{id}", self.update),
            web.delete(BASE + "/{id}", self.delete),
            web.post(BASE + "/{id}/renew", self.renew),
        ]

    async def close(self) -> None:
        await self.webhooks.close()

    # -- validation --------------------------------------------------------------------------

    async def filters(self, auth: AuthContext, raw: object) -> list[str]:
        """The filters to store: supported ones validated and with ``~`` resolved, the
        well-formed ones callscope produces nothing for as given (SUB-508 invalid, SUB-406
        another account's, 403 not permitted)."""
        if not isinstance(raw, list) or not raw:
            raise ApiError(
                400,
                "SUB-508",
                "Invalid event filters: eventFilters must be a non-empty list of strings",
                parameterName="eventFilters",
            )
        bad: list[str] = []
        out: list[str] = []
        for item in raw:
            try:
                f = parse_filter(
                    item, account_id=auth.account_id, owner_extension_id=auth.extension_id
                )
            except ForeignAccount as exc:
                raise ApiError(
                    403, "SUB-406", f"Not allowed to subscribe to another account: {exc}"
                ) from exc
            except Unsupported as exc:
                out.append(exc.text)  # kept, listed in disabledFilters
                continue
            except FilterError as exc:
                bad.append(str(exc))
                continue
            if f.extension_id is not None and f.kind != "device":
                ext = await self.directory.get_extension(auth.account_id, f.extension_id)
                if ext is None:
                    raise ApiError(
                        403,
                        "SUB-406",
                        f"Not allowed to subscribe to extension {f.extension_id}: it is not "
                        "an extension of your account",
                    )
            await self._permitted(auth, f)
            out.append(f.text)
        if bad:
            raise ApiError(400, "SUB-508", f"Invalid event filters: {bad}")
        return out

    @staticmethod
    def check_reminders(filters: list[str], auth: AuthContext, expires_in: int) -> None:
        """Guide ("Renewing webhooks"): a renewal reminder's ``threshold`` cannot be more than
        half the subscription's lifetime, its ``interval`` more than half the threshold.
        UNCONFIRMED: how RingCentral answers one that breaks the rule; callscope refuses it
        (400 SUB-508) rather than remind at a time nobody asked for."""
        for text in filters:
            try:
                f = parse_filter(
                    text, account_id=auth.account_id, owner_extension_id=auth.extension_id
                )
            except FilterError:
                continue
            if f.kind != "reminder":
                continue
            if 2 * f.threshold_s > expires_in or 2 * f.interval_s > f.threshold_s:
                raise ApiError(
                    400,
                    "SUB-508",
                    f"Invalid event filters: {text}: threshold may be at most half of expiresIn "
                    f"({expires_in} s) and interval at most half of threshold",
                    parameterName="eventFilters",
                )

    async def _permitted(self, auth: AuthContext, f: EventFilter) -> None:
        """A filter needs the permission the matching REST read needs: account-wide
        telephony, presence and insights an admin (as the company active calls, the account
        presence and the insights reads), another extension's telephony and presence being
        that extension's admin or a supervisor allowed to monitor it (as ``/calls`` and the
        extension's active calls and presence). The presence of the extensions an extension
        monitors (its lines) is that extension's or an admin's: a supervisor allowed to
        watch an agent is not thereby allowed to watch whom the agent monitors."""
        if f.kind in ("device", "reminder"):
            return  # the subscriber's own devices; the subscription's own expiry
        if f.line and f.extension_id != auth.extension_id and not auth.admin:
            raise ApiError(
                403,
                "CMN-408",
                f"[ReadPresence] permission required: only extension {f.extension_id} or an "
                f"admin may subscribe to {f.text}",
                permissionName="ReadPresence",
            )
        if f.extension_id is None:
            if not auth.admin:
                name = {"insights": "ReadCompanyCallRecording", "presence": "ReadPresence"}.get(
                    f.kind, "ReadCallLog"
                )
                raise ApiError(
                    403,
                    "CMN-408",
                    f"[{name}] permission required: only an admin may subscribe to {f.text}",
                    permissionName=name,
                )
            return
        if not await may_watch(self.directory, auth, (f.extension_id,)):
            raise ApiError(
                403,
                "CMN-408",
                f"[ReadPresence] permission required: not allowed to watch extension "
                f"{f.extension_id} (only your own, or an agent your monitoring groups let you "
                "monitor)",
                permissionName="ReadPresence",
            )

    async def check_limit(self, auth: AuthContext) -> None:
        """403 SUB-505 when the user already holds the most subscriptions for this app."""
        if (
            await self.subscriptions.count_for(
                auth.account_id, auth.extension_id, auth.client_id, utcnow()
            )
            >= MAX_PER_USER_APP
        ):
            raise ApiError(
                403,
                "SUB-505",
                f"Subscriptions limit exceeded: at most {MAX_PER_USER_APP} per user per app",
            )

    @staticmethod
    def _expires_in(raw: object, default: int) -> int:
        if raw is None:
            return default
        if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_EXPIRES_IN_S:
            raise ApiError(
                400,
                "CMN-101",
                f"Parameter [expiresIn] value is invalid: an integer 1-{MAX_EXPIRES_IN_S}",
                parameterName="expiresIn",
                parameterValue=str(raw),
            )
        return raw

    async def _own(self, request: web.Request, *, http_update: bool = False) -> Subscription:
        """The path's subscription if it is the caller's and not expired."""
        sub = await self.own(caller(request), request.match_info["id"])
        if http_update and sub.transport == "WebSocket":
            raise ApiError(
                400,
                "CMN-101",
                "A WebSocket subscription is changed over its WebSocket connection, not HTTP",
                parameterName="subscriptionId",
            )
        return sub

    async def own(self, auth: AuthContext, sub_id: str) -> Subscription:
        """The subscription if it is the caller's and not expired (404 otherwise)."""
        sub = await self.subscriptions.get(sub_id)
        if sub is None or (sub.account_id, sub.extension_id) != (
            auth.account_id,
            auth.extension_id,
        ):
            raise not_found("subscriptionId", sub_id)
        if aware(sub.expires_at) <= utcnow():
            raise ApiError(404, "SUB-507", f"Subscription {sub_id} has expired")
        return sub

    # -- routes ------------------------------------------------------------------------------

    async def create(self, request: web.Request) -> web.Response:
        auth = caller(request)
        body = await read_json(request)
        filters = await self.filters(auth, body.get("eventFilters"))
        mode = body.get("deliveryMode")
        if not isinstance(mode, dict):
            raise ApiError(
                400,
                "CMN-101",
                "Parameter [deliveryMode] value is invalid: an object is required",
                parameterName="deliveryMode",
            )
        transport = mode.get("transportType")
        if transport == "WebSocket":
            raise ApiError(
                400,
                "CMN-101",
                "WebSocket subscriptions are created over the WebSocket gateway "
                "(POST /restapi/oauth/wstoken, then a ClientRequest on the socket)",
                parameterName="deliveryMode.transportType",
            )
        if transport != "WebHook":
            raise ApiError(
                400,
                "CMN-101",
                "Parameter [deliveryMode.transportType] value is invalid: use WebHook",
                parameterName="deliveryMode.transportType",
                parameterValue=str(transport),
            )
        address = mode.get("address")
        problem = check_address(address)
        if problem is not None:
            raise ApiError(
                400,
                "CMN-101",
                f"Parameter [deliveryMode.address] value is invalid: {problem}",
                parameterName="deliveryMode.address",
            )
        assert isinstance(address, str)
        token = mode.get("verificationToken")
        if token is not None and (not isinstance(token, str) or len(token) > 256):
            raise ApiError(
                400,
                "CMN-101",
                "Parameter [deliveryMode.verificationToken] value is invalid: a string of at "
                "most 256 characters",
                parameterName="deliveryMode.verificationToken",
            )
        expires_in = self._expires_in(body.get("expiresIn"), DEFAULT_EXPIRES_IN_S)
        self.check_reminders(filters, auth, expires_in)
        await self.check_limit(auth)
        await self._handshake(auth, address)
        sub = new_subscription(
            auth, filters, "WebHook", expires_in, address=address, verification_token=token
        )
        await self.subscriptions.create(sub)
        return json_response(subscription_json(sub, public_origin(request)))

    async def _handshake(self, auth: AuthContext, address: str) -> None:
        """400 CMN-101 for a refused address, 400 SUB-525 for a failed handshake."""
        try:
            failure = await handshake(self.webhooks, address)
        except WebhookTargetRefused as exc:
            logger.warning(
                "account %s extension %s: WebHook address %s refused: %s",
                auth.account_id,
                auth.extension_id,
                origin_of(address),
                exc.detail,
            )
            raise ApiError(
                400,
                "CMN-101",
                OWN_SERVER if exc.own_server else NOT_PUBLIC,
                parameterName="deliveryMode.address",
            ) from exc
        if failure is not None:
            logger.info(
                "account %s extension %s: WebHook handshake with %s failed: %s",
                auth.account_id,
                auth.extension_id,
                origin_of(address),
                failure,
            )
            raise ApiError(400, "SUB-525", HANDSHAKE_FAILED)

    async def list(self, request: web.Request) -> web.Response:
        auth = caller(request)
        now = utcnow()
        rows = [
            s
            for s in await self.subscriptions.list_for(auth.account_id, auth.extension_id)
            if aware(s.expires_at) > now
        ]
        origin = public_origin(request)
        return json_response(
            {"uri": f"{origin}{BASE}", "records": [subscription_json(s, origin) for s in rows]}
        )

    async def get(self, request: web.Request) -> web.Response:
        sub = await self._own(request)
        return json_response(subscription_json(sub, public_origin(request)))

    async def update(self, request: web.Request) -> web.Response:
        sub = await self._own(request, http_update=True)
        body = await read_json(request, allow_empty=True)  # empty = renew
        values: dict[str, Any] = {}
        filters = list(sub.event_filters)
        if "eventFilters" in body:
            filters = values["event_filters"] = await self.filters(
                caller(request), body["eventFilters"]
            )
        expires_in = self._expires_in(body.get("expiresIn"), sub.expires_in)
        self.check_reminders(filters, caller(request), expires_in)
        values["expires_in"] = expires_in
        values["expires_at"] = utcnow() + timedelta(seconds=expires_in)
        updated = await self.subscriptions.update(sub.id, **values)
        if updated is None:
            raise not_found("subscriptionId", sub.id)
        self.dispatcher.forget(sub.id)
        return json_response(subscription_json(updated, public_origin(request)))

    async def renew(self, request: web.Request) -> web.Response:
        sub = await self._own(request, http_update=True)
        updated = await self.subscriptions.update(
            sub.id, expires_at=utcnow() + timedelta(seconds=sub.expires_in)
        )
        if updated is None:
            raise not_found("subscriptionId", sub.id)
        self.dispatcher.forget(sub.id)
        return json_response(subscription_json(updated, public_origin(request)))

    async def stop_all(self, account_id: str, extension_id: int) -> int:
        """Delete every subscription the extension holds (its password changed or it was
        disabled); returns how many."""
        rows = await self.subscriptions.list_for(account_id, extension_id)
        for sub in rows:
            await self.subscriptions.delete(sub.id)
            await self.dispatcher.stop_sending(sub.id)
        return len(rows)

    async def delete(self, request: web.Request) -> web.Response:
        sub = await self._own(request)
        await self.subscriptions.delete(sub.id)
        # once this returns no request for it starts: not the rest of a batch the sender
        # had loaded, nor a retry it was waiting for (its queue is dropped)
        await self.dispatcher.stop_sending(sub.id)
        return web.Response(status=204)
