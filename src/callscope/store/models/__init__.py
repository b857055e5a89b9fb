"""SQLAlchemy models. Every schema change goes through an Alembic migration.

The tables live by domain (``identity``, ``calls``, ``notifications``); every one is
re-exported here, so ``from callscope.store.models import X`` names any of them, and importing
this package registers every table on ``Base.metadata`` (what Alembic compares against).
"""

from __future__ import annotations

from callscope.store.models.base import Base
from callscope.store.models.calls import (
    Call,
    CallAlertRow,
    CallStatus,
    Insight,
    InsightJob,
    Party,
    StreamingProfile,
    SupervisionSessionRow,
    TelephonySession,
    TranscriptStatus,
    UtteranceRow,
)
from callscope.store.models.identity import (
    Account,
    App,
    Device,
    Extension,
    GroupMember,
    JwtCredential,
    MonitoringGroup,
    Revocation,
    ServerKey,
    SipCredential,
    Token,
)
from callscope.store.models.notifications import (
    Delivery,
    OutboxEvent,
    Subscription,
    WsRecovery,
    WsSession,
)

__all__ = [
    "Account",
    "App",
    "Base",
    "Call",
    "CallAlertRow",
    "CallStatus",
    "Delivery",
    "Device",
    "Extension",
    "GroupMember",
    "Insight",
    "InsightJob",
    "JwtCredential",
    "MonitoringGroup",
    "OutboxEvent",
    "Party",
    "Revocation",
    "ServerKey",
    "SipCredential",
    "StreamingProfile",
    "Subscription",
    "SupervisionSessionRow",
    "TelephonySession",
    "Token",
    "TranscriptStatus",
    "UtteranceRow",
    "WsRecovery",
    "WsSession",
]
