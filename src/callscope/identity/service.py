"""Identity service: admin operations, OAuth grants (spec §2) and bearer-token resolution.

Password hashing and checking run in the service's :class:`PasswordPool` (worker threads,
bounded), never on the event loop; :meth:`IdentityService.close` stops it. A login whose
stored hash is weaker than today's parameters stores a new hash (see ``crypto``).

The service is one object made of parts: :class:`AdminOperations` (``identity.admin``),
:class:`OAuthGrants` (``identity.oauth``) and :class:`TokenSessions` (``identity.tokens``) over
:class:`IdentityBase` (``identity.base``); its vocabulary is ``identity.model``.
"""

from __future__ import annotations

from typing import Any

from callscope.identity.admin import AdminOperations
from callscope.identity.crypto import new_secret
from callscope.identity.model import DEMO_JWT_TTL_S
from callscope.identity.oauth import OAuthGrants
from callscope.identity.tokens import TokenSessions

__all__ = ["IdentityService"]


class IdentityService(AdminOperations, OAuthGrants, TokenSessions):
    """Accounts, extensions, apps, credentials and devices; OAuth grants; bearer tokens."""

    async def seed_demo(self) -> dict[str, Any]:
        """One demo account matching the simulator's defaults: rcAccountId 70000001 and
        RingCX agents 5501-5503. Returns the credentials to print (shown once).

        Everyone gets a JWT credential (the agents' let a sample that acts on ``~`` run as
        an agent); the supervisor also gets a WebPhone device, Offline until a web phone
        connects with its ``deviceId`` (the dashboard's supervision panel, or
        ``/supervision/device?deviceId=``): the ``supervisorDeviceId`` a supervise sample
        names. One password hash for the four users."""
        account = await self.create_account("70000001", "Demo Contact Centre")
        password = new_secret(9)
        # one hash for the four users of one password: a start pays one scrypt, not four
        shared_hash = await self.passwords.hash(password)
        sup = await self.create_extension(
            account.id,
            number="101",
            first_name="Sam",
            last_name="Supervisor",
            email="sam@demo.callscope.test",
            admin=True,
            password_hash=shared_hash,
        )
        agents = []
        for number, (first, last), agent_id in (
            ("102", ("Alex", "Agent"), "5501"),
            ("103", ("Blair", "Agent"), "5502"),
            ("104", ("Casey", "Agent"), "5503"),
        ):
            agents.append(
                await self.create_extension(
                    account.id,
                    number=number,
                    first_name=first,
                    last_name=last,
                    email=f"{first.lower()}@demo.callscope.test",
                    ringcx_agent_id=agent_id,
                    password_hash=shared_hash,
                    insights_licence=True,
                )
            )
        app, secret = await self.create_app(account.id, "Demo supervision app")
        jwt = await self.create_jwt(account.id, sup.id, expires_in_s=DEMO_JWT_TTL_S)
        agent_jwts = [
            await self.create_jwt(account.id, a.id, expires_in_s=DEMO_JWT_TTL_S) for a in agents
        ]
        await self.create_device(account.id, sup.id, type="SoftPhone", name="Sam's softphone")
        web_phone = await self.create_device(
            account.id, sup.id, type="WebPhone", name="Sam's web phone"
        )
        for agent in agents:  # what a Genesys targetDeviceUri names
            await self.create_device(
                account.id, agent.id, type="HardPhone", name=f"{agent.first_name}'s desk phone"
            )
        return {
            "accountId": account.id,
            "clientId": app.client_id,
            "clientSecret": secret,
            "supervisor": {
                "extensionId": str(sup.id),
                "extensionNumber": "101",
                "jwt": jwt,
                "deviceId": str(web_phone.id),
            },
            "username": sup.email,
            "password": password,
            "agents": [
                {
                    "extensionId": str(a.id),
                    "extensionNumber": a.extension_number,
                    "ringcxAgentId": a.ringcx_agent_id,
                    "jwt": agent_jwt,
                }
                for a, agent_jwt in zip(agents, agent_jwts, strict=True)
            ],
        }
