"""Push notifications end to end: calls streamed by the simulator into a real server, events
delivered to real WebHook receivers on 127.0.0.1 — in order, through receiver outages,
retries and a SIGKILLed server — and blacklisting after the documented failures."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import Server
from tests.helpers.login import request

# Receiver, subscribe, agent, until and run_calls lived here: other modules still import them
# from this one until they move to tests.helpers (the names stay in __all__ for them)
from tests.helpers.receiver import LIFECYCLE, SUB, TEL, Receiver, agent, subscribe
from tests.helpers.runner import run_calls, start_simulate
from tests.helpers.wait import until, until_async

__all__ = ["LIFECYCLE", "TEL", "Receiver", "agent", "run_calls", "subscribe", "until"]

pytestmark = pytest.mark.slow


async def failed_deliveries_at_least(server: Server, n: int) -> bool:
    """Whether the server counts at least ``n`` failed WebHook delivery attempts."""
    _, text = await request(server, "GET", "/metrics")
    prefix = 'callscope_deliveries_total{result="failed",transport="WebHook"} '
    line = next((x for x in text.splitlines() if x.startswith(prefix)), prefix + "0")
    return float(line.removeprefix(prefix)) >= n


#: quick retries so an outage of a few seconds is many attempts
FAST_RETRY = ["--events-retry-initial-s", "0.1", "--events-retry-max-s", "0.4"]
#: take a receiver that reads a notification and hangs up for one that got it (the vendor's
#: sample receiver never answers notifications)
ACCEPT_NO_REPLY = ["--events-webhook-accept-no-reply"]


async def test_a_simulated_call_is_notified_setup_to_disconnected_in_order(
    server_factory: type[Server], tmp_path: Path
) -> None:
    server = server_factory(tmp_path / "data").start()
    receiver = await Receiver().start()
    try:
        me = await agent(server, "102")  # RingCX agent 5501, the simulator's first
        sub = await subscribe(
            server,
            receiver.url,
            TEL,
            f"/restapi/v1.0/account/~/extension/{me['id']}/presence?detailedTelephonyState=true",
            f"/restapi/v1.0/account/~/extension/{me['id']}/telephony/sessions"
            "?statusCode=Disconnected",
        )
        await run_calls(server, "--speed", "20", "--max-frames", "100")
        sessions = await until(
            lambda: [s for s, codes in receiver.sessions().items() if "Disconnected" in codes],
            what="the call's Disconnected event",
        )
        session_id = sessions[0]
        await until(lambda: len(receiver.notifications) >= 4 + 1 + 3, what="every event")
        await asyncio.sleep(0.5)  # nothing more may follow
        account_level = [
            n
            for n in receiver.telephony(session_id)
            if n["event"] == "/restapi/v1.0/account/70000001/telephony/sessions"
        ]
        # account level: the lifecycle in order, sequence rising, only the account's party
        assert [n["body"]["parties"][0]["status"]["code"] for n in account_level] == LIFECYCLE
        assert [n["body"]["sequence"] for n in account_level] == [1, 2, 3, 4]
        for n in account_level:
            assert n["subscriptionId"] == sub["id"]
            assert n["ownerId"] == str(server.login()["owner_id"])
            assert n["event"] == "/restapi/v1.0/account/70000001/telephony/sessions"
            assert n["timestamp"].endswith("Z")
            body = n["body"]
            assert body["telephonySessionId"] == session_id
            assert body["origin"] == {"type": "Call"}
            assert body["eventTime"].endswith("Z")
            assert [p["extensionId"] for p in body["parties"]] == [str(me["id"])]
            party = body["parties"][0]
            assert party["accountId"] == "70000001"
            assert party["direction"] == "Inbound"
            assert party["to"]["extensionId"] == str(me["id"])
            assert party["recordings"][0]["id"] == session_id.removeprefix("s-")
        assert account_level[-1]["body"]["parties"][0]["status"]["reason"] == "CallFinished"
        assert len({n["uuid"] for n in receiver.notifications}) == len(receiver.notifications)

        # extension level with statusCode=Disconnected: that one event only
        only_end = [n for n in receiver.telephony(session_id) if "statusCode" in n["event"]]
        assert [n["body"]["parties"][0]["status"]["code"] for n in only_end] == ["Disconnected"]
        assert only_end[0]["body"]["extensionId"] == str(me["id"])

        # detailed presence of the agent: ringing, connected, then no call
        presence = [n for n in receiver.notifications if "/presence" in n["event"]]
        assert [n["body"]["telephonyStatus"] for n in presence] == [
            "Ringing",
            "CallConnected",
            "NoCall",
        ]
        connected, ended = presence[1]["body"], presence[2]["body"]
        assert connected["activeCalls"][0]["telephonySessionId"] == session_id
        assert (
            connected["activeCalls"][0]["partyId"] == account_level[0]["body"]["parties"][0]["id"]
        )
        assert (connected["totalActiveCalls"], ended["totalActiveCalls"]) == (1, 0)
        assert ended["activeCalls"][0]["terminationType"] == "final"
        assert connected["extensionId"] == str(me["id"])
        seq = [n["body"]["sequence"] for n in presence]
        assert seq == sorted(seq)

        # headers: the verification token on every delivery, never a Validation-Token
        for h in receiver.headers:
            assert h["Verification-Token"] == "vt-1"
            assert "Validation-Token" not in h
            assert h["User-Agent"].startswith("RingCentral-Webhook/8.3")
            assert h["Content-Type"].startswith("application/json")
    finally:
        await receiver.stop()


async def test_a_receiver_down_for_a_while_gets_everything_in_order_once_back(
    server_factory: type[Server], tmp_path: Path
) -> None:
    server = server_factory(tmp_path / "data", extra_args=FAST_RETRY).start()
    receiver = await Receiver().start()
    other = await Receiver().start()  # a healthy subscriber beside the dead one
    try:
        await subscribe(server, receiver.url)
        await subscribe(server, other.url)
        await receiver.stop()  # down: connections refused
        await run_calls(server, "--calls", "3", "--speed", "20", "--max-frames", "100")
        # the healthy one is not held back by the dead one
        await until(
            lambda: sum(c == LIFECYCLE for c in other.sessions().values()) == 3,
            what="all events at the healthy receiver",
        )
        await until_async(
            lambda: failed_deliveries_at_least(server, 3), what="a few failed attempts and backoffs"
        )
        assert not receiver.notifications
        await receiver.start()  # back on the same address
        await until(
            lambda: sum(c == LIFECYCLE for c in receiver.sessions().values()) == 3,
            what="every call's lifecycle after the outage",
        )
        assert receiver.sessions() == other.sessions()
        for session_id in receiver.sessions():
            seq = [n["body"]["sequence"] for n in receiver.telephony(session_id)]
            assert seq == sorted(seq) == [1, 2, 3, 4]
        _, sub = await request(server, "GET", SUB, headers=server.headers)
        assert {s["status"] for s in sub["records"]} == {"Active"}
    finally:
        await receiver.stop()
        await other.stop()


async def test_events_committed_before_a_sigkill_are_delivered_after_restart(
    server_factory: type[Server], tmp_path: Path
) -> None:
    server = server_factory(
        tmp_path / "data", extra_args=[*FAST_RETRY, "--ingest-idle-timeout-s", "2"]
    ).start()
    receiver = await Receiver().start()
    try:
        await subscribe(server, receiver.url)
        await receiver.stop()
        call = start_simulate(server, "--speed", "1", "--max-frames", "3000")

        async def answered() -> bool:
            _, calls = await request(
                server, "GET", "/restapi/v1.0/account/~/active-calls", headers=server.headers
            )
            return bool(calls["records"])

        deadline = time.monotonic() + 20
        while not await answered():
            assert time.monotonic() < deadline, "the call never became active"
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)  # the Answered events are committed, not delivered
        server.kill()  # mid-call, while the receiver is down
        await call.ended()
        assert not receiver.notifications

        server.start()  # recovery ends the call; its queue resumes
        await receiver.start()
        codes = await until(
            lambda: next((c for c in receiver.sessions().values() if len(c) == 4), None),
            what="the call's four events",
        )
        assert codes == LIFECYCLE
        last = receiver.telephony()[-1]["body"]
        assert last["sequence"] == 4
        assert last["parties"][0]["status"]["reason"] == "InternalError"  # ended by recovery
    finally:
        await receiver.stop()


async def test_a_failing_target_is_blacklisted_after_the_documented_failures(
    server_factory: type[Server], tmp_path: Path
) -> None:
    server = server_factory(
        tmp_path / "data",
        extra_args=[*FAST_RETRY, *ACCEPT_NO_REPLY, "--events-max-failures", "4"],
    ).start()
    failing = await Receiver(mode="fail").start()
    quiet = await Receiver(mode="hangup").start()  # answers nothing: not a failure (opted in)
    try:
        bad = await subscribe(server, failing.url)
        sample = await subscribe(server, quiet.url)
        await run_calls(server, "--speed", "20", "--max-frames", "50")

        async def status_of(sub_id: str) -> dict[str, Any]:
            _, body = await request(server, "GET", f"{SUB}/{sub_id}", headers=server.headers)
            return body  # type: ignore[no-any-return]

        deadline = time.monotonic() + 30
        while (await status_of(bad["id"]))["status"] != "Blacklisted":
            assert time.monotonic() < deadline, "never blacklisted"
            await asyncio.sleep(0.2)
        blacklisted = await status_of(bad["id"])
        reason = blacklisted["blacklistedData"]["reason"]
        assert reason.startswith("4 deliveries in a row failed")
        assert "500" not in reason  # how they failed is for the server log only
        assert blacklisted["blacklistedData"]["blacklistedAt"].endswith("Z")
        assert failing.refused == 4  # the first event, tried four times; nothing after
        await asyncio.sleep(1)
        assert failing.refused == 4

        await until(lambda: len(quiet.sessions().get(next(iter(quiet.sessions()), ""), [])) == 4)
        assert list(quiet.sessions().values()) == [LIFECYCLE]  # each delivered exactly once
        assert (await status_of(sample["id"]))["status"] == "Active"
    finally:
        await failing.stop()
        await quiet.stop()


async def test_a_hang_up_is_a_failure_unless_the_operator_accepts_no_reply(
    server_factory: type[Server], tmp_path: Path
) -> None:
    server = server_factory(
        tmp_path / "data", extra_args=[*FAST_RETRY, "--events-max-failures", "3"]
    ).start()
    quiet = await Receiver(mode="hangup").start()
    try:
        sub = await subscribe(server, quiet.url)
        await run_calls(server, "--speed", "20", "--max-frames", "50")

        async def status() -> str:
            _, body = await request(server, "GET", f"{SUB}/{sub['id']}", headers=server.headers)
            return str(body["status"])

        deadline = time.monotonic() + 30
        while await status() != "Blacklisted":
            assert time.monotonic() < deadline, "a receiver that never answers was not retried"
            await asyncio.sleep(0.2)
        # the first notification, read three times and never answered: retried, not delivered
        assert len(quiet.notifications) == 3
        assert len({n["uuid"] for n in quiet.notifications}) == 1
        assert quiet.sessions() == {next(iter(quiet.sessions())): ["Setup"] * 3}
        async with aiohttp.ClientSession() as s, s.get(server.http + "/metrics") as r:
            text = await r.text()
        assert 'callscope_deliveries_total{result="failed",transport="WebHook"} 3' in text
        assert 'result="delivered",transport="WebHook"' not in text
    finally:
        await quiet.stop()


async def test_delete_stops_a_loaded_batch_and_a_retry_at_once(
    server_factory: type[Server], tmp_path: Path
) -> None:
    # retries wait 0.5-1 s: a DELETE lands in the wait, and a wait of 3 s covers several
    server = server_factory(
        tmp_path / "data",
        extra_args=["--events-retry-initial-s", "1", "--events-retry-max-s", "1"],
    ).start()
    slow = await Receiver(mode="hold").start()
    failing = await Receiver(mode="fail").start()
    try:
        held = await subscribe(server, slow.url)
        retried = await subscribe(server, failing.url)
        await run_calls(server, "--calls", "3", "--speed", "20", "--max-frames", "50")
        # a backlog of 12 for each: the first is under way (held unanswered) with the rest of
        # its batch loaded; the other's first failed and waits for its retry
        await until(lambda: len(slow.notifications) == 1, what="the first held")
        await until(lambda: failing.refused >= 1, what="the first refused")
        for sub in (held, retried):
            status, _ = await request(
                server, "DELETE", f"{SUB}/{sub['id']}", headers=server.headers
            )
            assert status == 204
        refused = failing.refused
        slow.gate.set()  # the held one may be answered now: nothing may follow it
        await asyncio.sleep(3)
        assert len(slow.notifications) == 1
        assert failing.refused == refused
    finally:
        await slow.stop()
        await failing.stop()


async def test_expiry_stops_a_loaded_batch_at_once(
    server_factory: type[Server], tmp_path: Path
) -> None:
    server = server_factory(tmp_path / "data").start()
    slow = await Receiver(mode="hold").start()
    try:
        sub = await subscribe(server, slow.url)
        await run_calls(server, "--calls", "2", "--speed", "20", "--max-frames", "50")
        await until(lambda: len(slow.notifications) == 1, what="the first held")
        status, renewed = await request(
            server, "PUT", f"{SUB}/{sub['id']}", headers=server.headers, json={"expiresIn": 1}
        )
        assert status == 200, renewed
        expires = datetime.fromisoformat(renewed["expirationTime"].replace("Z", "+00:00"))
        await until(lambda: datetime.now(UTC) > expires, what="the expiry")
        status, _ = await request(server, "GET", f"{SUB}/{sub['id']}", headers=server.headers)
        assert status == 404  # expired
        slow.gate.set()  # the one under way is answered after the expiry: nothing may follow
        await asyncio.sleep(2)
        assert len(slow.notifications) == 1
    finally:
        await slow.stop()


async def test_a_deleted_subscription_receives_nothing_more(
    server_factory: type[Server], tmp_path: Path
) -> None:
    server = server_factory(tmp_path / "data").start()
    receiver = await Receiver().start()
    try:
        sub = await subscribe(server, receiver.url)
        status, _ = await request(server, "DELETE", f"{SUB}/{sub['id']}", headers=server.headers)
        assert status == 204
        kept = await Receiver().start()
        await subscribe(server, kept.url)
        await run_calls(server, "--speed", "20", "--max-frames", "50")
        await until(lambda: list(kept.sessions().values()) == [LIFECYCLE])
        assert receiver.notifications == []
        await kept.stop()
    finally:
        await receiver.stop()


async def test_a_phone_number_filter_gets_the_calls_of_that_caller(
    server_factory: type[Server], tmp_path: Path
) -> None:
    server = server_factory(tmp_path / "data").start()
    first, second = await Receiver().start(), await Receiver().start()
    try:
        # the simulator's callers are 6505550000, 6505550001, … (ten digits, no country code)
        await subscribe(server, first.url, TEL + "?phoneNumber=+16505550000")
        await subscribe(server, second.url, TEL + "?phoneNumber=+16505550001")
        await run_calls(server, "--calls", "2", "--speed", "20", "--max-frames", "50")
        for r in (first, second):
            await until(lambda r=r: list(r.sessions().values()) == [LIFECYCLE], what="one call")
        assert set(first.sessions()).isdisjoint(second.sessions())
        for r, number in ((first, "+16505550000"), (second, "+16505550001")):
            for n in r.telephony():
                (party,) = n["body"]["parties"]
                assert party["from"]["phoneNumber"] == number
                assert party["to"]["phoneNumber"] == "+16505550900"
        session_id = next(iter(second.sessions()))
        _, session = await request(
            server,
            "GET",
            f"/restapi/v1.0/account/~/telephony/sessions/{session_id}",
            headers=server.headers,
        )
        assert {p["from"]["phoneNumber"] for p in session["parties"]} == {"+16505550001"}
    finally:
        await first.stop()
        await second.stop()


async def test_metrics_count_deliveries(server_factory: type[Server], tmp_path: Path) -> None:
    server = server_factory(tmp_path / "data").start()
    receiver = await Receiver().start()
    try:
        await subscribe(server, receiver.url)
        await run_calls(server, "--speed", "20", "--max-frames", "50")
        await until(lambda: list(receiver.sessions().values()) == [LIFECYCLE])
        async with aiohttp.ClientSession() as s, s.get(server.http + "/metrics") as r:
            text = await r.text()
        assert 'callscope_deliveries_total{result="delivered",transport="WebHook"} 4' in text
        assert "callscope_delivery_delay_seconds_count 4" in text
    finally:
        await receiver.stop()


async def test_a_burst_to_many_subscribers_arrives_once_each_and_in_order(
    server_factory: type[Server], tmp_path: Path
) -> None:
    server = server_factory(tmp_path / "data").start()
    receivers = [await Receiver().start() for _ in range(8)]
    try:
        for r in receivers:
            await subscribe(server, r.url)
        await run_calls(
            server, "--calls", "20", "--ramp", "1", "--speed", "20", "--max-frames", "50"
        )
        for r in receivers:
            await until(lambda r=r: len(r.notifications) >= 80, what="80 notifications each")
        await asyncio.sleep(1.0)  # no repeats trickling in after
        for r in receivers:
            assert len(r.notifications) == 80
            assert len({n["uuid"] for n in r.notifications}) == 80
            assert list(r.sessions().values()) == [LIFECYCLE] * 20
            for session_id in r.sessions():
                assert [n["body"]["sequence"] for n in r.telephony(session_id)] == [1, 2, 3, 4]
    finally:
        for r in receivers:
            await r.stop()


async def test_account_presence_and_monitored_lines_are_notified_beside_disabled_filters(
    server_factory: type[Server], tmp_path: Path
) -> None:
    server = server_factory(tmp_path / "data").start()
    receiver = await Receiver().start()
    try:
        alex, blair = await agent(server, "102"), await agent(server, "103")
        _, group = await request(
            server,
            "POST",
            "/restapi/v1.0/account/~/call-monitoring-groups",
            headers=server.headers,
            json={"name": "lines"},
        )
        sam = server.credentials()["supervisor"]["extensionId"]
        status, _ = await request(
            server,
            "POST",
            f"/restapi/v1.0/account/~/call-monitoring-groups/{group['id']}/bulk-assign",
            headers=server.headers,
            json={
                "addedExtensions": [
                    {"id": sam, "permissions": ["Monitoring"]},
                    {"id": alex["id"], "permissions": ["Monitored"]},
                ]
            },
        )
        assert status == 204
        account = "/restapi/v1.0/account/70000001/presence?detailedTelephonyState=true"
        lines = f"/restapi/v1.0/account/70000001/extension/{sam}/presence/line/presence"
        blairs_lines = (
            f"/restapi/v1.0/account/70000001/extension/{blair['id']}/presence/line/presence"
        )
        sms = "/restapi/v1.0/account/~/extension/~/message-store/instant?type=SMS"
        sub = await subscribe(
            server,
            receiver.url,
            "/restapi/v1.0/account/~/presence?detailedTelephonyState=true",
            "/restapi/v1.0/account/~/extension/~/presence/line/presence",
            blairs_lines,  # Blair monitors no one: nothing
            sms,
            TEL,
        )
        assert sub["eventFilters"] == [account, lines, blairs_lines, TEL.replace("~", "70000001")]
        assert [d["filter"] for d in sub["disabledFilters"]] == [sms]
        await run_calls(server, "--speed", "20", "--max-frames", "100")

        def by_event(event: str) -> list[dict[str, Any]]:
            return [n for n in receiver.notifications if n["event"] == event]

        await until(lambda: len(by_event(lines)) >= 3, what="the monitored line's presence")
        await until(lambda: len(receiver.sessions()) == 1, what="the call's events")
        await until(lambda: LIFECYCLE in receiver.sessions().values(), what="the whole call")
        await asyncio.sleep(0.5)  # nothing more may follow
        for event in (account, lines):
            seen = by_event(event)
            assert [n["body"]["telephonyStatus"] for n in seen] == [
                "Ringing",
                "CallConnected",
                "NoCall",
            ]
            assert {n["body"]["extensionId"] for n in seen} == {str(alex["id"])}
        connected = by_event(account)[1]["body"]
        assert connected["activeCalls"][0]["telephonySessionId"].startswith("s-")
        assert "activeCalls" not in by_event(lines)[1]["body"]  # not asked for detail
        assert by_event(blairs_lines) == []
        assert {n["event"] for n in receiver.notifications} == {
            account,
            lines,
            TEL.replace("~", "70000001"),
        }
    finally:
        await receiver.stop()
