"""SIP accounts of supervisor devices: created once (the password is shown once), kept as
digest HA1, looked up by the registrar."""

from __future__ import annotations

import secrets

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callscope.sip.digest import ha1
from callscope.store.models import Device, SipCredential
from callscope.store.repo import utcnow

__all__ = ["SipAccounts"]


class SipAccounts:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(self, device: Device, realm: str) -> tuple[str, str]:
        """A new SIP account for ``device`` (replacing any it had): (username, password)."""
        username = f"cs{device.id}"
        password = secrets.token_urlsafe(18)
        async with self._sessions.begin() as s:
            old = await s.get(SipCredential, device.id)
            if old is not None:
                await s.delete(old)
                await s.flush()
            s.add(
                SipCredential(
                    device_id=device.id,
                    username=username,
                    realm=realm,
                    ha1=ha1(username, realm, password),
                    created_at=utcnow(),
                )
            )
        return username, password

    async def lookup(self, username: str) -> tuple[SipCredential, Device] | None:
        async with self._sessions() as s:
            row = (
                await s.execute(
                    select(SipCredential, Device)
                    .join(Device, Device.id == SipCredential.device_id)
                    .where(SipCredential.username == username)
                )
            ).first()
        return (row[0], row[1]) if row is not None else None

    async def all_offline(self, node_id: str | None = None) -> int:
        """No SIP phone of ``node_id`` (None: of any node) is registered: at start-up, a
        crash left some Online."""
        devices = select(SipCredential.device_id).scalar_subquery()
        q = update(Device).where(Device.id.in_(devices), Device.status != "Offline")
        if node_id is not None:
            q = q.where(Device.node_id == node_id)
        async with self._sessions.begin() as s:
            result = await s.execute(q.values(status="Offline", node_id=None))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
