"""The demo account a server's first start creates, and its "Demo team" monitoring group."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from callscope.config import Settings
from callscope.identity.crypto import new_secret
from callscope.identity.service import IdentityService
from callscope.ingest.auth import SecretHasher
from callscope.store.directory import DirectoryRepository, MemberChange
from callscope.store.models import StreamingProfile
from callscope.store.repo import ProfileRepository, utcnow

__all__ = ["DEMO_PROFILE", "DEMO_TEAM", "ensure_demo_team", "seed_demo_account"]

logger = logging.getLogger("callscope.app")

#: the demo account's monitoring group (the supervisor monitoring the agents)
DEMO_TEAM = "Demo team"
#: the demo account's streaming profile: the simulator's default product
DEMO_PROFILE: dict[str, Any] = {
    "productType": "QUEUE",
    "productId": 4401,
    "subAccountId": "88800012",
    "mainAccountId": "88800010",
}


async def ensure_demo_team(
    directory: DirectoryRepository, account_id: str, supervisor: int, agents: list[int]
) -> bool:
    """The demo's "Demo team" monitoring group: the demo supervisor Monitoring the demo
    agents, so that the dashboard shows their calls at once. Idempotent: nothing is done if
    the account has a group of that name already. Returns whether it was created."""
    groups, _ = await directory.list_groups(account_id, limit=1000)
    if any(g.name.casefold() == DEMO_TEAM.casefold() for g in groups):
        return False
    group = await directory.create_group(account_id, DEMO_TEAM)
    await directory.bulk_assign(
        group.id,
        [MemberChange(supervisor, monitoring=True, monitored=False)]
        + [MemberChange(a, monitoring=False, monitored=True) for a in agents],
        [],
    )
    return True


async def seed_demo_account(
    identity: IdentityService,
    directory: DirectoryRepository,
    profiles: ProfileRepository,
    hasher: SecretHasher,
    settings: Settings,
) -> None:
    """First start on an empty database: one demo account, its logins, its "Demo team"
    monitoring group and its streaming profile's secret printed once and kept in
    ``<data_dir>/demo-credentials.json`` (mode 0600), where ``callscope simulate`` and
    ``demo`` find the secret."""
    creds = await identity.seed_demo()
    account = creds["accountId"]
    await ensure_demo_team(
        directory,
        account,
        int(creds["supervisor"]["extensionId"]),
        [int(a["extensionId"]) for a in creds["agents"]],
    )
    secret = new_secret(24)
    now = utcnow()
    await profiles.create(
        StreamingProfile(
            product_type=DEMO_PROFILE["productType"],
            product_id=DEMO_PROFILE["productId"],
            sub_account_id=DEMO_PROFILE["subAccountId"],
            main_account_id=DEMO_PROFILE["mainAccountId"],
            rc_account_id=account,
            streaming_url="",
            secret_hash=await hasher.hash(secret),
            created_at=now,
            updated_at=now,
        )
    )
    creds["streaming"] = {**DEMO_PROFILE, "rcAccountId": account, "secret": secret}
    path = settings.data_dir / "demo-credentials.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # whatever the umask, and a file left from before included
    with os.fdopen(fd, "w") as f:
        json.dump(creds, f, indent=1)
    logger.warning(
        "created the demo account %s (supervisor ext 101 monitoring agents 102-104 = RingCX "
        "agents 5501-5503 in the Demo team group, QUEUE %s streaming profile). Log in with "
        "client id %s and the client secret, username %s and the password, or a JWT "
        "(supervisor's or an agent's); the "
        "supervisor's web phone device is supervisor.deviceId (Online once the dashboard "
        "connects it); streams present the profile's secret: all in %s",
        account,
        DEMO_PROFILE["productId"],
        creds["clientId"],
        creds["username"],
        path.resolve(),
    )
