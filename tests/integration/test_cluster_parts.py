"""The cluster's parts against the real Redis, in one process: leases, messages between
nodes, dead-node detection, the job queue's take-over, and settings that refuse a cluster
which cannot work."""

from __future__ import annotations

import asyncio
import re
import shlex
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from callscope.calls.telephony import TelephonyService
from callscope.cli import build_parser
from callscope.cluster import bus as cluster_bus
from callscope.cluster.bus import ClusterBus
from callscope.cluster.jobs import JobQueue
from callscope.cluster.node import Cluster, pack, redacted_url, unpack
from callscope.config import Settings
from callscope.errors import ConfigError
from callscope.events.delivery import Dispatcher, DispatcherOptions
from callscope.events.targets import TargetPolicy
from callscope.metrics import Registry
from callscope.store.db import create_engine, sessionmaker, upgrade
from callscope.store.directory import DirectoryRepository
from callscope.store.events import EventRepository
from callscope.store.models import Account, CallStatus, Delivery, OutboxEvent, Subscription
from callscope.store.repo import CallRepository, utcnow
from callscope.store.subscriptions import SubscriptionRepository
from callscope.store.writer import CallRowWriter
from tests.conftest import free_port
from tests.helpers.receiver import Receiver
from tests.helpers.rows import new_call
from tests.helpers.wait import until, until_async
from tests.integration.services import REDIS_URL

PG = "postgresql+asyncpg://u@127.0.0.1/x"


def node(prefix: str, name: str, dead_after_s: float = 1.5) -> Cluster:
    settings = Settings(
        database_url=PG,
        redis_url=REDIS_URL,
        redis_prefix=prefix,
        node_id=name,
        node_heartbeat_s=0.2,
        node_dead_after_s=dead_after_s,
    )
    return Cluster(settings, Registry())


def test_settings_refuse_a_cluster_that_cannot_work() -> None:
    with pytest.raises(ConfigError, match="PostgreSQL"):
        Settings(redis_url=REDIS_URL)  # SQLite is one node's file
    with pytest.raises(ConfigError, match="redis://"):
        Settings(redis_url="http://127.0.0.1:6379", database_url=PG)
    with pytest.raises(ConfigError, match="node_id"):
        Settings(node_id="a b")
    with pytest.raises(ConfigError, match="redis_prefix"):
        Settings(redis_prefix="a:b")
    with pytest.raises(ConfigError, match="node_dead_after_s"):
        Settings(node_heartbeat_s=5, node_dead_after_s=10)
    s = Settings(port=8123, host="0.0.0.0")
    assert s.effective_node_id.endswith("-8123")
    assert s.effective_advertise_url == "http://127.0.0.1:8123"
    assert redacted_url("redis://user:secret@h:6379/0") == "redis://user:***@h:6379/0"
    assert "secret" not in redacted_url("rediss://:secret@h:6379")


async def test_leases_are_held_by_one_node_and_freed_only_by_it(redis_prefix: str) -> None:
    a, b = node(redis_prefix, "a"), node(redis_prefix, "b")
    try:
        key = a.key("lease", "x")
        assert await a.acquire(key, 5)
        assert not await b.acquire(key, 5)
        assert not await b.renew(key, 5)
        await b.release(key)  # not b's: stays
        assert await a.redis.exists(key)
        assert await a.renew(key, 5)
        await a.release(key)
        assert await b.acquire(key, 5)
    finally:
        await a.redis.aclose()
        await b.redis.aclose()


async def test_messages_reach_the_other_nodes_and_a_dead_node_is_reaped_once(
    redis_prefix: str,
) -> None:
    a, b, c = (node(redis_prefix, n) for n in "abc")
    got: list[tuple[str, bytes]] = []
    reaped: list[tuple[str, str]] = []
    frames: dict[str, list[bytes]] = {"b": [], "c": []}
    for n in (b, c):
        n.on("note", lambda sender, data: got.append((sender, data)))
        n.on("frame", lambda _sender, data, mine=frames[n.node_id]: mine.append(data))

        async def dead(who: str, me: Cluster = n) -> None:
            reaped.append((me.node_id, who))

        n.on_dead.append(dead)
    for n in (a, b, c):
        await n.connect()
        await n.start()
    try:
        a.broadcast("note", b"to all")
        a.send("b", "note", b"to b")
        for _ in range(100):
            if len(got) == 3:
                break
            await asyncio.sleep(0.02)
        assert sorted(got) == [("a", b"to all"), ("a", b"to all"), ("a", b"to b")]
        # a burst (the listen audio of many calls): packed on the way, in order on arrival
        sent: list[bytes] = []
        for i in range(300):
            if i % 50 == 0:
                a.broadcast("frame", b"all %d" % i)
                sent.append(b"all %d" % i)
            a.send("b", "frame", b"frame\n%d" % i)  # payloads may hold the separator
            sent.append(b"frame\n%d" % i)
        for _ in range(200):
            if len(frames["b"]) == len(sent):
                break
            await asyncio.sleep(0.02)
        assert frames["b"] == sent
        assert frames["c"] == [d for d in sent if d.startswith(b"all")]
        for _ in range(100):
            if b.alive == {"a", "b", "c"}:
                break
            await asyncio.sleep(0.02)
        assert b.alive == {"a", "b", "c"}
        # a dies without a word: its heartbeat lapses, one survivor takes over
        for task in a._tasks:
            task.cancel()
        for _ in range(100):
            if reaped:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        assert len(reaped) == 1
        assert reaped[0][1] == "a"
        assert "a" not in b.alive
        assert await b.redis.hget(b.key("nodes"), "a") is None
        # a survivor that listed "a" before the other one reaped it, and takes the lease
        # after: it reaps nothing more
        for n in (b, c):
            assert not await n.reap("a")
        assert len(reaped) == 1
    finally:
        await a.redis.aclose()
        await b.stop()
        await c.stop()


def test_runs_of_messages_to_one_channel_are_packed_in_order() -> None:
    a = node("p", "a")
    batch = [
        ("p:node:b", b"dev.audio", b"\x00\n\x01"),
        ("p:node:b", b"dev.audio", b""),
        ("p:all", b"bus", b"{}"),
        ("p:node:b", b"dev.json", b'{"x":1}'),
    ]
    out = a._publishes(batch)
    assert [channel for channel, _ in out] == ["p:node:b", "p:all", "p:node:b"]
    kind, sender, payload = out[0][1].split(b"\n", 2)
    assert (kind, sender) == (b"pack", b"a")
    assert unpack(payload) == [(b"dev.audio", b"\x00\n\x01"), (b"dev.audio", b"")]
    assert out[1][1] == b"bus\na\n{}"  # a message alone is not packed
    with pytest.raises(ValueError, match="truncated"):
        unpack(pack([(b"k", b"payload")])[:-1])
    with pytest.raises(ValueError, match="truncated"):
        unpack(b"\x00\x00")


async def test_nodes_that_lost_redis_together_do_not_reap_each_other(redis_prefix: str) -> None:
    """Redis unreachable for longer than node_dead_after_s: every heartbeat lapses. The node
    that gets through first waits one node_dead_after_s before judging the others, so a node
    back a moment later is not taken for dead; a node that stays away is, after the wait."""
    a, b = node(redis_prefix, "a", dead_after_s=3.0), node(redis_prefix, "b", dead_after_s=3.0)
    reaped: list[str] = []

    async def dead(who: str) -> None:
        reaped.append(who)

    a.on_dead.append(dead)
    beats = {n: n._beat for n in (a, b)}

    async def unreachable() -> None:
        raise ConnectionError("Redis unreachable")

    for n in (a, b):
        await n.connect()
        await n.start()
    try:
        for n in (a, b):
            n._beat = unreachable  # type: ignore[method-assign]
        for who in ("a", "b"):  # both heartbeats lapse in Redis
            await until_async(
                lambda who=who: _gone(a, a.key("alive", who)), what=f"{who}'s heartbeat lapsing"
            )
        assert not await a.redis.exists(a.key("alive", "b"))
        a._beat = beats[a]  # type: ignore[method-assign]
        await asyncio.sleep(0.8)  # a is back; b is not yet
        b._beat = beats[b]  # type: ignore[method-assign]
        await asyncio.sleep(3.0)  # past a's wait
        assert reaped == []
        assert a.alive == {"a", "b"}
        # b goes away for good: a judges it once the wait is over
        b._beat = unreachable  # type: ignore[method-assign]
        for _ in range(200):
            if reaped:
                break
            await asyncio.sleep(0.05)
        assert reaped == ["b"]
    finally:
        b._beat = beats[b]  # type: ignore[method-assign]
        await a.stop()
        await b.stop()


async def test_a_second_process_may_not_take_a_living_nodes_id(redis_prefix: str) -> None:
    a = node(redis_prefix, "same", dead_after_s=0.9)
    twin = node(redis_prefix, "same", dead_after_s=0.9)
    await a.connect()
    await a.start()
    try:
        with pytest.raises(ConfigError, match="in use by a running node"):
            await twin.connect()
    finally:
        await a.stop()
        await twin.redis.aclose()


async def test_the_cluster_bus_delivers_other_nodes_events(
    redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = node(redis_prefix, "a"), node(redis_prefix, "b")
    bus_a, bus_b = ClusterBus(a), ClusterBus(b)
    for n in (a, b):
        await n.connect()
        await n.start()
    try:
        with bus_b.subscribe("acct.calls.c1.") as sub, bus_a.subscribe("acct.") as mine:
            bus_a.publish("acct.calls.c1.transcript", {"event": "transcript.final", "seq": 1})
            bus_a.publish("acct.calls.c2.transcript", {"event": "transcript.final", "seq": 9})
            event = await asyncio.wait_for(sub.get(), 5)
            assert event == {"event": "transcript.final", "seq": 1}
            assert (await mine.get())["seq"] == 1  # and locally, once
            assert (await mine.get())["seq"] == 9
            await asyncio.sleep(0.2)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(mine.get(), 0.2)  # its own broadcast is not re-delivered
            # B remembers A's finals (a read on B may come before A stores them) until the
            # transcript completes; A keeps none of its own
            assert bus_b.recent_finals("acct.calls.c1.transcript") == [
                {"event": "transcript.final", "seq": 1}
            ]
            assert bus_a.recent_finals("acct.calls.c1.transcript") == []
            bus_a.publish("acct.calls.c1.transcript", {"event": "transcript.completed"})
            assert (await asyncio.wait_for(sub.get(), 5))["event"] == "transcript.completed"
            assert bus_b.recent_finals("acct.calls.c1.transcript") == []
            assert bus_b.recent_finals("acct.calls.c2.transcript")[0]["seq"] == 9
            # c2's node died before completing it: its finals are forgotten after RECENT_S
            monkeypatch.setattr(cluster_bus, "RECENT_S", 0.0)
            assert bus_b.recent_finals("acct.calls.c2.transcript") == []
            bus_b._swept = 0.0
            bus_b._sweep()
            assert bus_b._recent == {}
    finally:
        await a.stop()
        await b.stop()


async def test_a_job_held_by_a_dead_node_is_taken_over(redis_prefix: str) -> None:
    a, b = node(redis_prefix, "a", dead_after_s=1.0), node(redis_prefix, "b", dead_after_s=1.0)
    qa, qb = JobQueue(a, "work"), JobQueue(b, "work")
    await qa.start()
    await qb.start()
    try:
        await qa.add(["job-1", "job-1", "job-2"])  # a duplicate is dropped by the holder
        taken_a = await qa.take(0.1)
        assert taken_a == ["job-1", "job-2"]
        assert await qb.take(0.1) == []
        # a is alive and keeps what it holds: b cannot take it even after the idle time
        await asyncio.sleep(1.3)
        assert await qb.take(0.1) == []
        await qa.done("job-2")
        # a dies (stops refreshing): b takes job-1 over
        assert qa._keeper is not None
        qa._keeper.cancel()
        await asyncio.sleep(1.2)
        assert await qb.take(0.1) == ["job-1"]
        await qb.done("job-1")
        pending: Any = await b.redis.xpending(qb.stream, qb.group)
        assert pending["pending"] == 0
    finally:
        qa.held.clear()
        await qb.stop()
        await a.redis.aclose()
        await b.redis.aclose()


async def test_a_job_redis_refused_is_queued_once_redis_answers_again(redis_prefix: str) -> None:
    """A call ends while Redis is away: its insight job is committed in the database but not
    queued. It is queued when Redis answers again, not at the node's next start-up."""
    a = node(redis_prefix, "a", dead_after_s=0.9)  # retried every 0.3 s
    q = JobQueue(a, "work")
    await q.start()
    real = a.redis
    away = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    try:
        a.redis = away
        q.add_soon(["job-7"])
        await until(lambda: q.unqueued == {"job-7"}, what="the refused job kept")
        a.redis = real  # Redis is back
        taken = await until_async(lambda: q.take(0.1), what="job-7 queued again")
        assert taken == ["job-7"]
        assert q.unqueued == set()
    finally:
        a.redis = real
        await away.aclose()
        await q.stop()
        await real.aclose()


async def test_a_queue_whose_stream_vanished_is_made_again_and_refilled(
    redis_prefix: str,
) -> None:
    a = node(redis_prefix, "a")
    q = JobQueue(a, "work")
    refills: list[int] = []

    async def refill() -> None:
        refills.append(1)
        await q.add(["job-9"])

    q.on_reset = refill
    await q.start()
    try:
        await a.redis.delete(q.stream)  # as after a restart of a Redis that keeps nothing
        assert await q.take(0.1) == []
        assert refills == [1]
        assert await q.take(0.5) == ["job-9"]
    finally:
        await q.stop()
        await a.redis.aclose()


async def test_a_webhook_queue_handed_between_nodes_sends_each_notification_once(
    pg_url: str, redis_prefix: str
) -> None:
    """Two nodes' dispatchers on one database take turns at one WebHook queue (whoever gets
    the subscription's lease sends it). A node frees the lease only after what it sent is
    deleted from the queue, so the next holder never sends it again."""
    engine = create_engine(pg_url)
    await upgrade(engine)
    sessions = sessionmaker(engine)
    receiver = await Receiver().start()
    now = utcnow()
    async with sessions.begin() as s:
        s.add(Account(id="acc-1", name="Acme", created_at=now))
        await s.flush()
        s.add(
            Subscription(
                id="sub-1",
                account_id="acc-1",
                extension_id=1,
                client_id="client",
                event_filters=["/restapi/v1.0/account/~/telephony/sessions"],
                transport="WebHook",
                address=receiver.url,
                status="Active",
                expires_in=3600,
                created_at=now,
                expires_at=now + timedelta(hours=1),
            )
        )
    repo = EventRepository(sessions)
    #: at each release of the queue's lease: what is still queued that was already received
    sent_but_queued: list[list[str]] = []
    releases: list[str] = []
    dispatchers: list[Dispatcher] = []
    for name in "ab":
        cluster = node(redis_prefix, name)
        freed = cluster.release

        async def release(key: str, freed: Any = freed) -> None:
            # (a next turn's notifications may be queued already: only sent ones count)
            received = {n["uuid"] for n in receiver.notifications}
            queued = [d.envelope["uuid"] for d in await repo.pending("sub-1")]
            sent_but_queued.append([u for u in queued if u in received])
            releases.append(key)
            await freed(key)

        cluster.release = release  # type: ignore[method-assign]
        d = Dispatcher(
            repo,
            SubscriptionRepository(sessions),
            Registry(),
            # the receiver is on 127.0.0.1
            DispatcherOptions(webhook_targets=TargetPolicy(allow_private=True)),
        )
        d.join(cluster)
        await d.start()
        dispatchers.append(d)
    sent: list[str] = []
    try:
        for turn in range(12):
            async with sessions.begin() as s:
                for i in range(3):
                    uuid = f"n-{turn}-{i}"
                    sent.append(uuid)
                    env = {
                        "uuid": uuid,
                        "event": "/restapi/v1.0/account/acc-1/telephony/sessions",
                        "subscriptionId": "sub-1",
                        "ownerId": "1",
                        "body": {"sequence": len(sent)},
                    }
                    s.add(Delivery(subscription_id="sub-1", envelope=env, created_at=utcnow()))
            # both nodes are told; the one kicked first usually wins the lease
            for d in dispatchers[turn % 2 :] + dispatchers[: turn % 2]:
                d.kick("sub-1")
            await until(lambda: len(receiver.notifications) >= len(sent), what="the turn's 3")
            await until(
                lambda: not any(d.queues._senders for d in dispatchers), what="senders done"
            )
        assert [n["uuid"] for n in receiver.notifications] == sent  # each once, in order
        assert releases, "no lease was ever freed"
        assert all(k.endswith(":sender:sub-1") for k in releases), releases
        assert all(left == [] for left in sent_but_queued), sent_but_queued

        async def queue_empty() -> bool:
            return await repo.with_pending() == []

        # what was sent is deleted in batches, the last one as its sender ends
        await until_async(queue_empty, 10, "the sent notifications deleted")
    finally:
        for d in dispatchers:
            await d.stop()
            assert d.cluster is not None
            await d.cluster.redis.aclose()
        await receiver.stop()
        await engine.dispose()


async def test_a_session_is_ended_once_by_its_node_or_by_the_node_that_reaps_it(
    pg_url: str,
) -> None:
    """The node carrying a call and a survivor reaping that node may both end its session.
    Whichever commits first writes the Disconnected (the next sequence); the other writes
    nothing, whether they run one after the other in either order or at the same time."""
    engine = create_engine(pg_url)
    await upgrade(engine)
    sessions = sessionmaker(engine)
    async with sessions.begin() as s:
        s.add(Account(id="acc-1", name="Acme", created_at=utcnow()))
    calls = CallRepository(sessions)
    rows = CallRowWriter(calls)
    rows.start()
    node = TelephonyService(sessions, DirectoryRepository(sessions), rows)
    reaper = TelephonyService(sessions, DirectoryRepository(sessions), CallRowWriter(calls))

    async def opened(i: int) -> Any:
        call = new_call(i)
        call.account_ref = "acc-1"
        rows.create(call)
        live = await node.open(call)
        await rows.flush()
        return live

    async def node_ends(live: Any) -> None:
        node.close(live, CallStatus.INTERRUPTED)
        await rows.flush()

    try:
        ends = []
        for i in range(3):  # the node first, the reaper first, both at once
            live = await opened(i)
            orphan = reaper.end_orphans([live.call_id], CallStatus.INTERRUPTED)
            if i == 0:
                await node_ends(live)
                await orphan
            elif i == 1:
                await orphan
                await node_ends(live)
            else:
                await asyncio.gather(orphan, node_ends(live))
            ends.append(live.session_id)
        many = [await opened(i) for i in range(3, 23)]
        await asyncio.gather(
            reaper.end_orphans([live.call_id for live in many], CallStatus.INTERRUPTED),
            *(node_ends(live) for live in many),
        )
        ends += [live.session_id for live in many]
        async with sessions() as s:
            events = [
                e.payload
                for e in (await s.execute(select(OutboxEvent).order_by(OutboxEvent.id))).scalars()
                if e.kind == "telephony"
            ]
        for sid in ends:
            mine = [e for e in events if e["telephonySessionId"] == sid]
            assert [e["sequence"] for e in mine] == [1, 2, 3, 4], sid
            assert [e["parties"][0]["status"]["code"] for e in mine] == [
                "Setup",
                "Proceeding",
                "Answered",
                "Disconnected",
            ], sid
        assert rows.skipped >= 1  # the reaper was first at least once
    finally:
        await rows.stop()
        await engine.dispose()


def test_the_documented_deployment_starts_distinct_nodes_behind_the_balancer() -> None:
    """deploy/Procfile parses as `callscope serve` command lines of one cluster, and the
    nginx example balances exactly those ports."""
    root = Path(__file__).resolve().parents[2] / "deploy"
    env = {"CALLSCOPE_DATABASE_URL": PG, "CALLSCOPE_REDIS_URL": REDIS_URL}
    nodes = []
    for line in (root / "Procfile").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        _name, _, command = line.partition(":")
        argv = shlex.split(command)
        assert argv[:2] == ["callscope", "serve"]
        args = build_parser().parse_args(argv[1:])
        nodes.append(Settings.from_sources(env=env, args=args))
    assert len(nodes) == 3
    assert len({n.effective_node_id for n in nodes}) == 3
    assert all(n.redis_url == REDIS_URL for n in nodes)
    assert [n.effective_advertise_url for n in nodes] == [
        f"http://127.0.0.1:{n.port}" for n in nodes
    ]
    conf = (root / "nginx.conf").read_text()
    upstreams = {
        name: sorted(map(int, re.findall(r"server 127\.0\.0\.1:(\d+)", body)))
        for name, body in re.findall(r"upstream (\w+) \{([^}]*)\}", conf)
    }
    assert upstreams == {
        "callscope": sorted(n.port for n in nodes),
        "callscope_grpc": sorted(n.grpc_port for n in nodes),  # RingCX gRPC, via grpc_pass
    }
    assert all(n.grpc_bind_host == "127.0.0.1" for n in nodes)
    unit = (root / "callscope@.service").read_text()
    assert "ExecStart=/opt/callscope/.venv/bin/callscope serve" in unit
    assert "CALLSCOPE_NODE_ID=node%i" in unit


async def _gone(node: Cluster, key: str) -> bool:
    return not await node.redis.exists(key)
