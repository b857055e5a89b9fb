"""Queries for the account directory: extensions, devices, call monitoring groups."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from callscope.identity.model import new_numeric_id
from callscope.store.models import Device, Extension, GroupMember, MonitoringGroup
from callscope.store.repo import utcnow

__all__ = ["DirectoryRepository", "MemberChange"]


@dataclass(frozen=True, slots=True)
class MemberChange:
    extension_id: int
    monitoring: bool
    monitored: bool


async def _page(
    s: AsyncSession, q: Select[tuple[object]], offset: int, limit: int
) -> tuple[list[object], int]:
    total = (await s.execute(select(func.count()).select_from(q.subquery()))).scalar_one()
    rows = (await s.execute(q.offset(offset).limit(limit))).scalars()
    return list(rows), int(total)


class DirectoryRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    # -- extensions ----------------------------------------------------------------------

    async def list_extensions(
        self,
        account_id: str,
        *,
        numbers: Sequence[str] = (),
        emails: Sequence[str] = (),
        statuses: Sequence[str] = (),
        types: Sequence[str] = (),
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[list[Extension], int]:
        q = select(Extension).where(Extension.account_id == account_id)
        if numbers:
            q = q.where(Extension.extension_number.in_(numbers))
        if emails:
            q = q.where(func.lower(Extension.email).in_([e.lower() for e in emails]))
        if statuses:
            q = q.where(Extension.status.in_(statuses))
        if types:
            q = q.where(Extension.type.in_(types))
        q = q.order_by(Extension.extension_number, Extension.id)
        async with self._sessions() as s:
            rows, total = await _page(s, q, offset, limit)  # type: ignore[arg-type]
        return rows, total  # type: ignore[return-value]

    async def get_extension(self, account_id: str, extension_id: int) -> Extension | None:
        async with self._sessions() as s:
            ext = await s.get(Extension, extension_id)
        return ext if ext is not None and ext.account_id == account_id else None

    async def extension_by_number(self, account_id: str, number: str) -> Extension | None:
        async with self._sessions() as s:
            q = select(Extension).where(
                Extension.account_id == account_id, Extension.extension_number == number
            )
            return (await s.execute(q)).scalar_one_or_none()

    async def extension_by_agent(self, account_id: str, agent_id: str) -> Extension | None:
        async with self._sessions() as s:
            q = select(Extension).where(
                Extension.account_id == account_id, Extension.ringcx_agent_id == agent_id
            )
            return (await s.execute(q)).scalar_one_or_none()

    async def extensions(self, account_id: str, ids: Sequence[int]) -> dict[int, Extension]:
        if not ids:
            return {}
        async with self._sessions() as s:
            q = select(Extension).where(Extension.account_id == account_id, Extension.id.in_(ids))
            return {e.id: e for e in (await s.execute(q)).scalars()}

    # -- devices -------------------------------------------------------------------------

    async def list_devices(
        self,
        account_id: str,
        extension_id: int,
        *,
        types: Sequence[str] = (),
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[list[Device], int]:
        q = select(Device).where(
            Device.account_id == account_id, Device.extension_id == extension_id
        )
        if types:
            q = q.where(Device.type.in_(types))
        async with self._sessions() as s:
            rows, total = await _page(s, q.order_by(Device.id), offset, limit)  # type: ignore[arg-type]
        return rows, total  # type: ignore[return-value]

    async def account_devices(
        self,
        account_id: str,
        *,
        extension_id: int | None = None,
        types: Sequence[str] = (),
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[list[tuple[Device, Extension]], int]:
        """The account's devices with their extensions (of one extension if given)."""
        q = (
            select(Device, Extension)
            .join(Extension, Extension.id == Device.extension_id)
            .where(Device.account_id == account_id)
        )
        if extension_id is not None:
            q = q.where(Device.extension_id == extension_id)
        if types:
            q = q.where(Device.type.in_(types))
        async with self._sessions() as s:
            total = (await s.execute(select(func.count()).select_from(q.subquery()))).scalar_one()
            rows = (await s.execute(q.order_by(Device.id).offset(offset).limit(limit))).all()
        return [(d, e) for d, e in rows], int(total)

    async def get_device(self, account_id: str, device_id: int) -> Device | None:
        async with self._sessions() as s:
            device = await s.get(Device, device_id)
        return device if device is not None and device.account_id == account_id else None

    async def set_device_status(
        self, device_id: int, status: str, node_id: str | None = None
    ) -> bool:
        """``Online`` claims the web phone for ``node_id``: False if it is Online already (on
        any node). ``Offline`` releases it."""
        async with self._sessions.begin() as s:
            q = update(Device).where(Device.id == device_id)
            if status == "Online":
                q = q.where(Device.status != "Online")
            result = await s.execute(
                q.values(status=status, node_id=node_id if status == "Online" else None)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def webphones_offline(self, node_id: str | None = None) -> int:
        """No web phone of ``node_id`` (None: of any node) is connected: at start-up, a
        crash left some Online; in a cluster, when a node died."""
        async with self._sessions.begin() as s:
            q = update(Device).where(Device.type == "WebPhone", Device.status != "Offline")
            if node_id is not None:
                q = q.where(Device.node_id == node_id)
            result = await s.execute(q.values(status="Offline", node_id=None))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    # -- call monitoring groups (spec §5) ------------------------------------------------

    async def create_group(self, account_id: str, name: str) -> MonitoringGroup:
        group = MonitoringGroup(
            id=new_numeric_id(), account_id=account_id, name=name, created_at=utcnow()
        )
        async with self._sessions.begin() as s:
            s.add(group)
        return group

    async def get_group(self, account_id: str, group_id: int) -> MonitoringGroup | None:
        async with self._sessions() as s:
            group = await s.get(MonitoringGroup, group_id)
        return group if group is not None and group.account_id == account_id else None

    async def rename_group(self, group: MonitoringGroup, name: str) -> None:
        async with self._sessions.begin() as s:
            row = await s.get(MonitoringGroup, group.id)
            if row is not None:
                row.name = name
        group.name = name

    async def delete_group(self, group: MonitoringGroup) -> None:
        async with self._sessions.begin() as s:
            await s.execute(delete(GroupMember).where(GroupMember.group_id == group.id))
            await s.execute(delete(MonitoringGroup).where(MonitoringGroup.id == group.id))

    async def list_groups(
        self,
        account_id: str,
        *,
        member_extension_id: int | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[list[MonitoringGroup], int]:
        q = select(MonitoringGroup).where(MonitoringGroup.account_id == account_id)
        if member_extension_id is not None:
            q = q.where(
                MonitoringGroup.id.in_(
                    select(GroupMember.group_id).where(
                        GroupMember.extension_id == member_extension_id
                    )
                )
            )
        async with self._sessions() as s:
            rows, total = await _page(
                s,
                q.order_by(MonitoringGroup.created_at, MonitoringGroup.id),  # type: ignore[arg-type]
                offset,
                limit,
            )
        return rows, total  # type: ignore[return-value]

    async def members(
        self, group_id: int, *, offset: int = 0, limit: int = 100
    ) -> tuple[list[tuple[GroupMember, Extension]], int]:
        q = (
            select(GroupMember, Extension)
            .join(Extension, Extension.id == GroupMember.extension_id)
            .where(GroupMember.group_id == group_id)
            .order_by(Extension.extension_number, Extension.id)
        )
        async with self._sessions() as s:
            total = (
                await s.execute(select(func.count()).where(GroupMember.group_id == group_id))
            ).scalar_one()
            rows = (await s.execute(q.offset(offset).limit(limit))).all()
        return [(m, e) for m, e in rows], int(total)

    async def member_ids(self, group_id: int) -> set[int]:
        async with self._sessions() as s:
            q = select(GroupMember.extension_id).where(GroupMember.group_id == group_id)
            return set((await s.execute(q)).scalars())

    async def bulk_assign(
        self, group_id: int, upserts: Sequence[MemberChange], removes: Sequence[int]
    ) -> None:
        """Apply a bulk-assign in one transaction (validated by the caller)."""
        async with self._sessions.begin() as s:
            if removes:
                await s.execute(
                    delete(GroupMember).where(
                        GroupMember.group_id == group_id, GroupMember.extension_id.in_(removes)
                    )
                )
            for change in upserts:
                row = await s.get(GroupMember, (group_id, change.extension_id))
                if row is None:
                    s.add(
                        GroupMember(
                            group_id=group_id,
                            extension_id=change.extension_id,
                            monitoring=change.monitoring,
                            monitored=change.monitored,
                        )
                    )
                else:
                    row.monitoring, row.monitored = change.monitoring, change.monitored

    async def may_monitor(self, supervisor_id: int, agent_id: int) -> bool:
        """Spec §7.5: a ``Monitoring`` member may supervise a ``Monitored`` member of the
        same group."""
        sup, agent = aliased(GroupMember), aliased(GroupMember)
        q = (
            select(func.count())
            .select_from(sup)
            .join(agent, agent.group_id == sup.group_id)
            .where(
                sup.extension_id == supervisor_id,
                sup.monitoring.is_(True),
                agent.extension_id == agent_id,
                agent.monitored.is_(True),
            )
        )
        async with self._sessions() as s:
            return int((await s.execute(q)).scalar_one()) > 0

    async def monitored_by(self, supervisor_id: int) -> set[int]:
        """Every extension the supervisor may monitor."""
        sup, agent = aliased(GroupMember), aliased(GroupMember)
        q = (
            select(agent.extension_id)
            .join(sup, sup.group_id == agent.group_id)
            .where(
                sup.extension_id == supervisor_id,
                sup.monitoring.is_(True),
                agent.monitored.is_(True),
            )
        )
        async with self._sessions() as s:
            return set((await s.execute(q)).scalars())

    async def visible_agent_ids(self, extension_id: int, *, monitored_only: bool) -> set[str]:
        """RingCX agent ids whose calls the extension may see: the agents it may monitor and,
        unless ``monitored_only``, its own."""
        ids = await self.monitored_by(extension_id)
        if not monitored_only:
            ids.add(extension_id)
        if not ids:
            return set()
        q = select(Extension.ringcx_agent_id).where(
            Extension.id.in_(ids), Extension.ringcx_agent_id.is_not(None)
        )
        async with self._sessions() as s:
            return {str(a) for a in (await s.execute(q)).scalars() if a}
