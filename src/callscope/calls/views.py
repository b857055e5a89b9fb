"""JSON views of telephony sessions and parties (spec §7.1), shared by REST and events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from callscope.identity.model import aware
from callscope.store.models import Party, TelephonySession

__all__ = ["agent_extension", "current_agent", "endpoint", "iso", "party_json", "session_json"]


def iso(value: datetime) -> str:
    return aware(value).astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def endpoint(number: str | None, name: str | None, extension_id: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if number:
        out["phoneNumber"] = number
    if name:
        out["name"] = name
    if extension_id is not None:
        out["extensionId"] = str(extension_id)
    return out


def party_json(p: Party, agent_ext: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": p.id,
        "direction": p.direction,
        "from": endpoint(p.from_number, p.from_name, None),
        "to": endpoint(p.to_number, p.to_name, agent_ext),
        "status": {"code": p.status_code, "rcc": False},
        "muted": False,
        "standAlone": False,
    }
    if p.status_reason:
        out["status"]["reason"] = p.status_reason
    if p.extension_id is not None:
        out["accountId"] = p.account_id
        out["extensionId"] = str(p.extension_id)
        out["owner"] = {"accountId": p.account_id, "extensionId": str(p.extension_id)}
    return out


def current_agent(parties: list[Party]) -> Party | None:
    """The agent party the call is with now: after a transfer, the newest one."""
    agents = [p for p in parties if p.role == "agent"]
    live = [p for p in agents if p.status_code not in ("Disconnected", "Gone")]
    chosen = live or agents
    return chosen[-1] if chosen else None


def agent_extension(parties: list[Party]) -> int | None:
    agent = current_agent(parties)
    return agent.extension_id if agent else None


def session_json(session: TelephonySession, parties: list[Party]) -> dict[str, Any]:
    agent = agent_extension(parties)
    return {
        "id": session.id,
        "creationTime": iso(session.creation_time),
        "origin": {"type": session.origin_type},
        "parties": [party_json(p, agent) for p in parties],
    }
