"""What a client asks about the platform itself: API versions, its account, its app.

* ``GET /restapi`` — RingCentral's "Get API Versions" (ApiVersionsList): ``uri``,
  ``apiVersions[]`` {uri, versionString, uriString}, ``serverVersion``, ``serverRevision``.
* ``GET /restapi/v1.0`` — "Get Version Info" (GetVersionResponse): ``uri``,
  ``versionString``, ``uriString``.
* ``GET /restapi/v1.0/account/{accountId}`` — "Get Account Info" (GetAccountInfoResponse):
  ``id`` (int64, as the current spec types it), ``uri``, ``status``, ``setupWizardState``,
  ``serviceInfo``; ``/service-info`` answers that ``serviceInfo``. Any user of the account
  may read it (another account's is 404).
* ``GET /restapi/v1.0/client-info`` — the calling app: ``uri``, ``client`` {appId, appName,
  appVersion}.

Only what callscope knows is said: no main number (callscope keeps none for an account),
no brand, service plan or billing plan, no release date of the API version.

UNCONFIRMED: the two version reads answer without a token here (RingCentral documents no
permission for them; ``/health`` shows the version anyway); ``versionString`` is ``1.0``,
the REST surface callscope follows, not a RingCentral release number; ``serverRevision``
is callscope's version too (it keeps no source revision). ``setupWizardState`` is
``Completed``: an account exists here only once an admin has set it up. The current spec
has no ``GET /restapi/v1.0/client-info``; its body follows RingCentral's older "Get Client
Info" (ClientApiResponse), ``appVersion`` being the version in the first product token of
the request's ``User-Agent``, which is where RingCentral reads an app's version from
(SPR-122 "Application version is not set in User-Agent header").
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from callscope import __version__
from callscope.api.auth import account_param, caller
from callscope.api.errors import json_response, not_found
from callscope.api.proxy import public_origin
from callscope.identity.service import IdentityService

__all__ = ["API_VERSION", "InfoApi"]

API_VERSION = "1.0"
_USER_AGENT = re.compile(r"^([A-Za-z0-9._-]{1,64})/([0-9][A-Za-z0-9._-]{0,31})(?:\s|$)")


def _version(origin: str) -> dict[str, Any]:
    return {
        "uri": f"{origin}/restapi/v{API_VERSION}",
        "versionString": API_VERSION,
        "uriString": f"v{API_VERSION}",
    }


class InfoApi:
    def __init__(self, identity: IdentityService) -> None:
        self.identity = identity

    def routes(self) -> list[web.RouteDef]:
        account = "/restapi/v1.0/account/{accountId}"
        return [
            web.get("/restapi", self.versions),
            web.get(f"/restapi/v{API_VERSION}", self.version),
            web.get(account, self.account),
            web.get(account + "/service-info", self.service_info),
            web.get("/restapi/v1.0/client-info", self.client_info),
        ]

    async def versions(self, request: web.Request) -> web.Response:
        origin = public_origin(request)
        return json_response(
            {
                "uri": f"{origin}/restapi",
                "apiVersions": [_version(origin)],
                "serverVersion": __version__,
                "serverRevision": __version__,
            }
        )

    async def version(self, request: web.Request) -> web.Response:
        return json_response(_version(public_origin(request)))

    def _service_info(self, account_uri: str) -> dict[str, Any]:
        return {"uri": f"{account_uri}/service-info"}

    async def account(self, request: web.Request) -> web.Response:
        account_id = account_param(request)
        account = await self.identity.get_account(account_id)
        if account is None:  # deleted under the token
            raise not_found("accountId", request.match_info["accountId"])
        uri = f"{public_origin(request)}/restapi/v1.0/account/{account.id}"
        return json_response(
            {
                "id": int(account.id),
                "uri": uri,
                "status": "Confirmed",
                "setupWizardState": "Completed",
                "serviceInfo": self._service_info(uri),
            }
        )

    async def service_info(self, request: web.Request) -> web.Response:
        account_id = account_param(request)
        uri = f"{public_origin(request)}/restapi/v1.0/account/{account_id}"
        return json_response(self._service_info(uri))

    async def client_info(self, request: web.Request) -> web.Response:
        auth = caller(request)
        app = await self.identity.get_app(auth.client_id)
        client: dict[str, Any] = {"appId": auth.client_id}
        if app is not None:
            client["appName"] = app.name
        agent = _USER_AGENT.match(request.headers.get("User-Agent", ""))
        if agent is not None:
            client["appVersion"] = agent.group(2)
        return json_response(
            {"uri": f"{public_origin(request)}/restapi/v1.0/client-info", "client": client}
        )
