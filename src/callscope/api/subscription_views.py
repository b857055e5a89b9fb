"""What a push-notification subscription looks like (spec §8.1): its REST body, with its
filters split into ``eventFilters`` (delivered) and ``disabledFilters`` (kept, never
delivered: see ``api/subscriptions.py``), and a new subscription row. Shared by the REST
API and the WebSocket gateway, which serve the same bodies.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from callscope.calls.views import iso
from callscope.events.filters import FilterError, Unsupported, parse_filter
from callscope.identity.model import AuthContext, aware
from callscope.store.models import Subscription
from callscope.store.repo import utcnow

__all__ = ["BASE", "new_subscription", "split_filters", "subscription_json"]

BASE = "/restapi/v1.0/subscription"

#: ``disabledFilters[].reason`` (UNCONFIRMED: RingCentral's wording)
NOT_SUPPORTED = "NotSupported"
SELF_RENEWING = (
    "a WebSocket subscription renews itself while its connection is up: it gets no renewal "
    "reminders"
)


def split_filters(
    texts: list[str], *, account_id: str, owner_extension_id: int, transport: str
) -> tuple[list[str], list[dict[str, str]]]:
    """A subscription's stored filters as ``eventFilters`` (delivered) and
    ``disabledFilters`` (``{filter, reason, message}``: kept, never delivered)."""
    enabled: list[str] = []
    disabled: list[dict[str, str]] = []
    for text in texts:
        try:
            f = parse_filter(text, account_id=account_id, owner_extension_id=owner_extension_id)
        except Unsupported as exc:
            disabled.append({"filter": text, "reason": NOT_SUPPORTED, "message": exc.message})
            continue
        except FilterError as exc:  # stored before a change of the rules: say so
            disabled.append({"filter": text, "reason": NOT_SUPPORTED, "message": str(exc)})
            continue
        if f.kind == "reminder" and transport == "WebSocket":
            disabled.append({"filter": text, "reason": NOT_SUPPORTED, "message": SELF_RENEWING})
            continue
        enabled.append(text)
    return enabled, disabled


def subscription_json(sub: Subscription, origin: str) -> dict[str, Any]:
    mode: dict[str, Any] = {"transportType": sub.transport, "encryption": False}
    if sub.address is not None:
        mode["address"] = sub.address  # the verificationToken is never echoed
    enabled, disabled = split_filters(
        list(sub.event_filters),
        account_id=sub.account_id,
        owner_extension_id=sub.extension_id,
        transport=sub.transport,
    )
    body: dict[str, Any] = {
        "uri": f"{origin}{BASE}/{sub.id}",
        "id": sub.id,
        "creationTime": iso(sub.created_at),
        "status": sub.status,
        "eventFilters": enabled,
        "expirationTime": iso(sub.expires_at),
        "expiresIn": max(0, int((aware(sub.expires_at) - utcnow()).total_seconds())),
        "deliveryMode": mode,
    }
    if disabled:
        body["disabledFilters"] = disabled
    if sub.blacklisted_at is not None:
        body["blacklistedData"] = {
            "blacklistedAt": iso(sub.blacklisted_at),
            "reason": sub.blacklist_reason or "",
        }
    return body


def new_subscription(
    auth: AuthContext,
    filters: list[str],
    transport: str,
    expires_in: int,
    *,
    address: str | None = None,
    verification_token: str | None = None,
    ws_session: str | None = None,
) -> Subscription:
    """An Active subscription of the caller's, from now for ``expires_in`` seconds."""
    now = utcnow()
    return Subscription(
        id=str(uuid.uuid4()),
        account_id=auth.account_id,
        extension_id=auth.extension_id,
        client_id=auth.client_id,
        event_filters=list(filters),
        transport=transport,
        address=address,
        verification_token=verification_token,
        status="Active",
        expires_in=expires_in,
        created_at=now,
        expires_at=now + timedelta(seconds=expires_in),
        ws_session=ws_session,
    )
