"""RingCentral directory routes: extensions (spec §3), devices (§4), call monitoring groups
(§5). All scoped to the token's account; paths accept ``~``.

Devices: an extension's list (its own, or an admin's read), and the account's
(``/account/{id}/device``: an admin sees every device, anyone else their own) with each
device at ``/account/{id}/device/{deviceId}`` — the ``uri`` every device record carries.
Another extension's device is 404 to a non-admin, as an unknown one: device ids are what
supervision names, and a non-admin has no business probing them.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callscope.api.auth import account_param, caller, extension_id_param, require_admin
from callscope.api.errors import ApiError, json_response, not_found, read_json
from callscope.api.paging import page_params, paged
from callscope.api.proxy import public_origin
from callscope.digits import is_digits
from callscope.identity.model import MEMBER_TYPES
from callscope.store.directory import DirectoryRepository, MemberChange
from callscope.store.models import Device, Extension, MonitoringGroup

__all__ = ["DirectoryApi", "extension_in_account", "extension_json"]

ACCOUNT = "/restapi/v1.0/account/{accountId}"
PERMISSIONS = ("Monitoring", "Monitored")


def base_url(request: web.Request, account_id: str) -> str:
    return f"{public_origin(request)}/restapi/v1.0/account/{account_id}"


def extension_json(ext: Extension, base: str) -> dict[str, Any]:
    return {
        "id": ext.id,
        "uri": f"{base}/extension/{ext.id}",
        "extensionNumber": ext.extension_number,
        "name": ext.name,
        "type": ext.type,
        "status": ext.status,
        "contact": {
            "firstName": ext.first_name,
            "lastName": ext.last_name,
            "name": ext.name,
            "email": ext.email,
        },
        "permissions": {
            # spec §13.6: the samples crash without admin.enabled on User records
            "admin": {"enabled": bool(ext.admin)},
            "internationalCalling": {"enabled": False},
        },
        "hidden": False,
        "ringcxAgentId": ext.ringcx_agent_id,
    }


def device_json(device: Device, ext: Extension, base: str) -> dict[str, Any]:
    return {
        "id": str(device.id),
        "uri": f"{base}/device/{device.id}",
        "type": device.type,
        "sku": device.sku,
        "name": device.name,
        "serial": device.serial,
        "status": device.status,
        "linePooling": "None",
        "extension": {
            "id": ext.id,
            "uri": f"{base}/extension/{ext.id}",
            "extensionNumber": ext.extension_number,
        },
    }


def group_json(group: MonitoringGroup, base: str) -> dict[str, Any]:
    return {
        "uri": f"{base}/call-monitoring-groups/{group.id}",
        "id": str(group.id),
        "name": group.name,
    }


def _id(value: Any, name: str) -> int:
    """Numeric or string ids are both accepted (spec §5: the Python sample posts ints)."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, str) and is_digits(value) and len(value) < 19:
        return int(value)
    raise ApiError(
        400,
        "CMN-101",
        f"Parameter [{name}] value is invalid",
        parameterName=name,
        parameterValue=str(value)[:40],
    )


def _group_name(body: dict[str, Any]) -> str:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 128:
        raise ApiError(
            400,
            "CMN-101",
            "Parameter [name] value is invalid: a non-empty string of at most 128 characters",
            parameterName="name",
        )
    return name.strip()


async def extension_in_account(
    request: web.Request, directory: DirectoryRepository, account_id: str
) -> Extension:
    """The ``{extensionId}`` of the path (``~`` = the caller), or 404 if not in the account."""
    ext = await directory.get_extension(account_id, extension_id_param(request))
    if ext is None:
        raise not_found("extensionId", request.match_info["extensionId"])
    return ext


class DirectoryApi:
    def __init__(self, directory: DirectoryRepository) -> None:
        self.directory = directory

    def routes(self) -> list[web.RouteDef]:
        groups = ACCOUNT + "/call-monitoring-groups"
        return [
            web.get(ACCOUNT + "/extension", self.list_extensions),
            web.get(ACCOUNT + "/extension/{extensionId}", self.get_extension),
            web.get(ACCOUNT + "/extension/{extensionId}/device", self.list_devices),
            web.get(ACCOUNT + "/device", self.account_devices),
            web.get(ACCOUNT + "/device/{deviceId}", self.get_device),
            web.post(groups, self.create_group),
            web.get(groups, self.list_groups),
            web.put(groups + "/{groupId}", self.rename_group),
            web.delete(groups + "/{groupId}", self.delete_group),
            web.get(groups + "/{groupId}/members", self.list_members),
            web.post(groups + "/{groupId}/bulk-assign", self.bulk_assign),
        ]

    async def _extension(self, request: web.Request, account_id: str) -> Extension:
        return await extension_in_account(request, self.directory, account_id)

    # -- extensions and devices ----------------------------------------------------------

    async def list_extensions(self, request: web.Request) -> web.Response:
        account_id = account_param(request)
        page, per_page = page_params(request)
        q = request.query
        rows, total = await self.directory.list_extensions(
            account_id,
            numbers=q.getall("extensionNumber", []),
            emails=q.getall("email", []),
            statuses=q.getall("status", []),
            types=q.getall("type", []),
            offset=(page - 1) * per_page,
            limit=per_page,
        )
        base = base_url(request, account_id)
        records = [extension_json(e, base) for e in rows]
        return json_response(paged(request, records, total, page, per_page))

    async def get_extension(self, request: web.Request) -> web.Response:
        account_id = account_param(request)
        ext = await self._extension(request, account_id)
        return json_response(extension_json(ext, base_url(request, account_id)))

    async def list_devices(self, request: web.Request) -> web.Response:
        account_id = account_param(request)
        ext = await self._extension(request, account_id)
        auth = caller(request)
        if ext.id != auth.extension_id and not auth.admin:
            raise ApiError(403, "CMN-404", "Access to another extension's devices is not allowed")
        page, per_page = page_params(request)
        rows, total = await self.directory.list_devices(
            account_id,
            ext.id,
            types=request.query.getall("type", []),
            offset=(page - 1) * per_page,
            limit=per_page,
        )
        base = base_url(request, account_id)
        records = [device_json(d, ext, base) for d in rows]
        return json_response(paged(request, records, total, page, per_page))

    async def account_devices(self, request: web.Request) -> web.Response:
        account_id = account_param(request)
        auth = caller(request)
        page, per_page = page_params(request)
        rows, total = await self.directory.account_devices(
            account_id,
            extension_id=None if auth.admin else auth.extension_id,
            types=request.query.getall("type", []),
            offset=(page - 1) * per_page,
            limit=per_page,
        )
        base = base_url(request, account_id)
        records = [device_json(d, e, base) for d, e in rows]
        return json_response(paged(request, records, total, page, per_page))

    async def get_device(self, request: web.Request) -> web.Response:
        account_id = account_param(request)
        auth = caller(request)
        raw = request.match_info["deviceId"]
        device = None
        if is_digits(raw) and len(raw) < 19:
            device = await self.directory.get_device(account_id, int(raw))
        if device is None or (not auth.admin and device.extension_id != auth.extension_id):
            raise not_found("deviceId", raw)
        ext = await self.directory.get_extension(account_id, device.extension_id)
        if ext is None:
            raise not_found("deviceId", raw)
        return json_response(device_json(device, ext, base_url(request, account_id)))

    # -- call monitoring groups ----------------------------------------------------------

    async def _group(self, request: web.Request, account_id: str) -> MonitoringGroup:
        raw = request.match_info["groupId"]
        group = None
        if is_digits(raw) and len(raw) < 19:
            group = await self.directory.get_group(account_id, int(raw))
        if group is None:
            raise not_found("groupId", raw)
        return group

    async def _unique_name(self, account_id: str, name: str, group_id: int | None) -> None:
        """400 if another group of the account has this name (case-insensitive)."""
        groups, _ = await self.directory.list_groups(account_id, limit=10_000)
        if any(g.name.casefold() == name.casefold() and g.id != group_id for g in groups):
            raise ApiError(
                400,
                "CMN-101",
                f"Parameter [name] value is invalid: a group named {name!r} exists already",
                parameterName="name",
                parameterValue=name,
            )

    async def create_group(self, request: web.Request) -> web.Response:
        account_id = account_param(request)
        require_admin(request, "Groups")
        name = _group_name(await read_json(request))
        await self._unique_name(account_id, name, None)
        group = await self.directory.create_group(account_id, name)
        return json_response(group_json(group, base_url(request, account_id)))

    async def list_groups(self, request: web.Request) -> web.Response:
        account_id = account_param(request)
        page, per_page = page_params(request)
        member = request.query.get("memberExtensionId")
        member_id = _id(member, "memberExtensionId") if member is not None else None
        rows, total = await self.directory.list_groups(
            account_id,
            member_extension_id=member_id,
            offset=(page - 1) * per_page,
            limit=per_page,
        )
        base = base_url(request, account_id)
        return json_response(
            paged(request, [group_json(g, base) for g in rows], total, page, per_page)
        )

    async def rename_group(self, request: web.Request) -> web.Response:
        account_id = account_param(request)
        require_admin(request, "Groups")
        group = await self._group(request, account_id)
        name = _group_name(await read_json(request))
        await self._unique_name(account_id, name, group.id)
        await self.directory.rename_group(group, name)
        return json_response(group_json(group, base_url(request, account_id)))

    async def delete_group(self, request: web.Request) -> web.Response:
        account_id = account_param(request)
        require_admin(request, "Groups")
        group = await self._group(request, account_id)
        await self.directory.delete_group(group)
        return web.Response(status=204)

    async def list_members(self, request: web.Request) -> web.Response:
        account_id = account_param(request)
        group = await self._group(request, account_id)
        page, per_page = page_params(request)
        rows, total = await self.directory.members(
            group.id, offset=(page - 1) * per_page, limit=per_page
        )
        base = f"{base_url(request, account_id)}/call-monitoring-groups/{group.id}/members"
        records = [
            {
                "uri": f"{base}/{ext.id}",
                "id": str(ext.id),
                "extensionNumber": ext.extension_number,
                # a single role first, dual role in a stable order (spec §5 member record)
                "permissions": [
                    p for p, on in (("Monitoring", m.monitoring), ("Monitored", m.monitored)) if on
                ],
            }
            for m, ext in rows
        ]
        return json_response(paged(request, records, total, page, per_page))

    async def bulk_assign(self, request: web.Request) -> web.Response:
        """Spec §5 bulk-assign: added = upsert, updated = replace (must be a member),
        removed = delete; an empty permissions list removes. Validated whole, applied in
        one transaction."""
        account_id = account_param(request)
        require_admin(request, "Groups")
        group = await self._group(request, account_id)
        body = await read_json(request)
        sections: dict[str, list[tuple[int, list[str]]]] = {}
        for key in ("addedExtensions", "updatedExtensions", "removedExtensions"):
            if key not in body:
                sections[key] = []
                continue
            items = body[key]
            # an explicit null is an error, as RingCentral answers it: the official sample
            # posts addedExtensions: null when its extension list failed, and a 204 would
            # tell it the group was filled
            if not isinstance(items, list):
                raise ApiError(
                    400,
                    "CMN-101",
                    f"Parameter [{key}] value is invalid: use a list",
                    parameterName=key,
                    parameterValue="null" if items is None else str(items)[:40],
                )
            parsed = []
            for i, item in enumerate(items):
                if not isinstance(item, dict):
                    raise ApiError(
                        400,
                        "CMN-101",
                        f"Parameter [{key}[{i}]] value is invalid",
                        parameterName=f"{key}[{i}]",
                    )
                perms = item.get("permissions", [])
                if perms is None:
                    perms = []
                if not isinstance(perms, list) or any(p not in PERMISSIONS for p in perms):
                    raise ApiError(
                        400,
                        "CMN-101",
                        f"Parameter [{key}[{i}].permissions] value is invalid: "
                        "use Monitoring and/or Monitored",
                        parameterName=f"{key}[{i}].permissions",
                    )
                parsed.append((_id(item.get("id"), f"{key}[{i}].id"), perms))
            sections[key] = parsed
        all_ids = [i for items in sections.values() for i, _ in items]
        if len(set(all_ids)) != len(all_ids):
            raise ApiError(400, "CMN-101", "An extension appears more than once in the request")
        exts = await self.directory.extensions(account_id, all_ids)
        for ext_id in all_ids:
            ext = exts.get(ext_id)
            if ext is None:
                raise ApiError(
                    400,
                    "CMN-102",
                    f"Resource for parameter [id] is not found: extension {ext_id}",
                    parameterName="id",
                    parameterValue=str(ext_id),
                )
            if ext.type not in MEMBER_TYPES:
                raise ApiError(
                    400,
                    "CMN-101",
                    f"Extension of type [{ext.type}] could not be a member of [call monitoring]",
                    parameterName="id",
                    parameterValue=str(ext_id),
                )
        members = await self.directory.member_ids(group.id)
        for ext_id, _ in sections["updatedExtensions"]:
            if ext_id not in members:
                raise ApiError(
                    400,
                    "CMN-102",
                    f"Extension {ext_id} is not a member of group {group.id}: add it instead",
                    parameterName="updatedExtensions",
                    parameterValue=str(ext_id),
                )
        upserts, removes = [], [i for i, _ in sections["removedExtensions"]]
        for ext_id, perms in sections["addedExtensions"] + sections["updatedExtensions"]:
            if not perms:
                removes.append(ext_id)
            else:
                upserts.append(MemberChange(ext_id, "Monitoring" in perms, "Monitored" in perms))
        await self.directory.bulk_assign(group.id, upserts, removes)
        return web.Response(status=204)
