"""The supervisor dashboard in real headless Chromium against a real server on 127.0.0.1.

One server (transcription on, the packaged engine) and one browser for the module; the
tests run in file order and build on each other like a supervisor's shift: sign in, set up
a monitoring group and a streaming profile, watch a two-way simulated call appear, read its
transcript, listen, coach with the (fake) microphone, open the embeddable per-call page,
replay the finished call with its insights, and use it all at phone size with the keyboard.

Chromium is Debian's ``/usr/bin/chromium`` (``make test`` installs it), driven by Python
``playwright`` with ``--use-fake-ui-for-media-stream`` and ``--use-fake-device-for-media-stream``;
the fake microphone plays a 440 Hz tone the test writes. Screenshots of every page go to
``test-artifacts/screenshots/`` (the README names the folder).
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from callscope.media.wav import read_wav
from tests.conftest import Server, simulate_command

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CALL_FRAMES = 2000  # 40 s of the bundled call at real time: long enough to listen and coach
TONE_HZ = 440.0


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def wait_for(what: str, check: Callable[[], Any], timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.2)


def write_tone(path: Path, seconds: float = 20.0, rate: int = 16000) -> None:
    """The fake microphone's input: a steady tone (generated, no licence applies)."""
    import wave

    t = np.arange(int(seconds * rate)) / rate
    pcm = (8000 * np.sin(2 * np.pi * TONE_HZ * t)).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def rest(server: Server, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server.http + path, data=data, method=method)
    for k, v in server.headers.items():
        req.add_header(k, v)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


@dataclass
class World:
    server: Server
    creds: dict[str, Any]
    pw: Playwright
    browser: Browser
    context: BrowserContext
    page: Page
    tmp: Path
    sim: subprocess.Popen[bytes] | None = None
    call: dict[str, Any] = field(default_factory=dict)
    coach_window: tuple[float, float] | None = None

    def sim_output(self) -> str:
        assert self.sim is not None
        out, _ = self.sim.communicate(timeout=120)
        return out.decode()


def launch(pw: Playwright, tone: Path) -> Browser:
    if not CHROMIUM.exists():
        pytest.fail(
            "Chromium is not installed at /usr/bin/chromium: `make test` installs it "
            "(apt-get install chromium); the dashboard tests need a real browser"
        )
    return pw.chromium.launch(
        executable_path=str(CHROMIUM),
        args=[
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={tone}",
            "--autoplay-policy=no-user-gesture-required",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("dashboard")
    server = Server(tmp / "data", asr=True).start(timeout_s=120)
    tone = tmp / "tone.wav"
    write_tone(tone)
    pw = sync_playwright().start()
    browser = launch(pw, tone)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    w = World(server, server.credentials(), pw, browser, context, page, tmp)
    try:
        yield w
    finally:
        if w.sim is not None and w.sim.poll() is None:
            w.sim.kill()
            w.sim.wait()
        context.close()
        browser.close()
        pw.stop()
        server.stop()
    assert not errors, f"the page threw: {errors}"


def sign_in(page: Page, user: str, password: str) -> None:
    page.fill("#login-user", user)
    page.fill("#login-password", password)
    page.click("#login-form button[type=submit]")


def test_sign_in(world: World) -> None:
    page = world.page
    page.goto(world.server.http + "/")
    page.wait_for_selector("#login-form")
    shot(page, "01-sign-in")
    sign_in(page, world.creds["username"], "not-the-password")
    error = page.wait_for_selector("#login-error:not([hidden])")
    assert "Wrong username or password" in error.inner_text()
    sign_in(page, world.creds["username"], world.creds["password"])
    page.wait_for_selector("#nav:not([hidden])")
    assert "Sam Supervisor" in page.inner_text("#who-name")
    # an admin sees the admin pages; live updates come from the subscription gateway
    assert page.is_visible("a[data-view=groups]")
    page.wait_for_selector("#conn.online", timeout=15_000)
    page.wait_for_selector("#live-empty:not([hidden])")
    assert "monitoring groups" in page.inner_text("#live-empty")
    shot(page, "02-live-empty")


def test_admin_sets_up_a_monitoring_group_and_a_profile(world: World) -> None:
    page = world.page
    page.click("a[data-view=groups]")
    page.fill("#group-name", "Floor 1")
    page.click("text=Create group")
    group = page.wait_for_selector("section[data-group]")
    page.check("input[aria-label='Sam Supervisor Monitoring']")
    page.check("input[aria-label='Alex Agent Monitored']")
    group.query_selector("text=Save members").click()  # type: ignore[union-attr]
    page.wait_for_selector("section[data-group] [role=status]:has-text('Saved')")
    groups = rest(world.server, "GET", "/restapi/v1.0/account/~/call-monitoring-groups")
    assert [g["name"] for g in groups["records"]] == ["Floor 1"]
    members = rest(
        world.server,
        "GET",
        f"/restapi/v1.0/account/~/call-monitoring-groups/{groups['records'][0]['id']}/members",
    )
    perms = {m["extensionNumber"]: m["permissions"] for m in members["records"]}
    assert perms == {"101": ["Monitoring"], "102": ["Monitored"]}
    shot(page, "03-monitoring-groups")

    page.click("a[data-view=profiles]")
    page.select_option("#p-type", "QUEUE")
    page.fill("#p-id", "4242")
    page.fill("#p-sub", "11110000")
    page.fill("#p-main", "11110000")
    page.fill("#p-url", "ws://not-wss.example.com")
    page.click("#profile-form button[type=submit]")
    notice = page.wait_for_selector("#notice:not([hidden])")
    assert "streamingUrl" in notice.inner_text()  # the API's own error, shown as it is
    page.fill("#p-url", "wss://callscope.example.com")
    page.fill("#p-secret", "s3cret-value")
    page.click("#profile-form button[type=submit]")
    page.wait_for_selector("td:has-text('QUEUE 4242')")
    profiles = rest(world.server, "GET", "/platform/api/media/product")["records"]
    assert [(p["productId"], p["streamingUrl"]) for p in profiles] == [
        (4401, ""),  # the demo account's own
        (4242, "wss://callscope.example.com"),
    ]
    assert all("secret" not in p for p in profiles)  # write-only
    shot(page, "04-streaming-profiles")


def test_a_simulated_call_appears_with_both_speakers(world: World) -> None:
    page = world.page
    page.click("a[data-view=live]")
    page.wait_for_selector("#live-empty:not([hidden])")
    heard = world.tmp / "heard"
    heard.mkdir()
    world.sim = subprocess.Popen(
        [
            *simulate_command(world.server, "--protocol", "twilio", "--agent-id", "5501"),
            "--url",
            world.server.http.replace("http", "ws") + "/twilio/stream",
            "--max-frames",
            str(CALL_FRAMES),
            "--speed",
            "1",
            "--heard-dir",
            str(heard),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    # no reload: the list follows the telephony events
    link = page.wait_for_selector("#live-calls li a", timeout=20_000)
    assert "Alex Agent" in link.inner_text()
    live = rest(world.server, "GET", "/calls?status=live")["records"]
    assert len(live) == 1
    world.call = live[0]
    link.click()
    page.wait_for_selector("#live-transcript li.agent:not(.partial)", timeout=40_000)
    page.wait_for_selector("#live-transcript li.customer:not(.partial)", timeout=40_000)
    labels = page.eval_on_selector_all(
        "#live-transcript li:not(.partial) .spk", "els => els.map(e => e.textContent)"
    )
    assert {"Agent", "Customer"} <= set(labels)
    # the bundled call is about a locked account: the packaged assist rules suggest the steps
    page.wait_for_selector(
        "#live-assist li.suggestion:has-text('Password or lock-out trouble')", timeout=20_000
    )
    shot(page, "05-live-call-transcript")


def test_the_per_call_page_opens_with_a_signed_link(world: World) -> None:
    link = rest(
        world.server,
        "POST",
        "/calls/client-links",
        {"callId": world.call["ringcxCallId"], "expiresIn": 600},
    )
    page = world.context.new_page()
    try:
        page.goto(link["uri"])
        page.wait_for_selector("#client-transcript li.agent", timeout=20_000)
        page.wait_for_selector("#client-transcript li.customer", timeout=20_000)
        shot(page, "06-client-page")
        tampered = link["uri"].replace("callId=", "callId=9")
        response = page.goto(tampered)
        assert response is not None
        assert response.status == 403
        assert "signature is not valid" in page.inner_text("[role=alert]")
    finally:
        page.close()


def test_listen_plays_the_call_in_the_page(world: World) -> None:
    page = world.page
    page.click("#listen")
    page.wait_for_selector("#listen[aria-pressed=true]")
    frames = wait_for(
        "call audio frames in the page",
        lambda: page.evaluate("window.callscope.listener.frames") > 50,
    )
    assert frames
    peak = wait_for(
        "sound at the AnalyserNode",
        lambda: page.evaluate("window.callscope.listener.peak") > 0.01 or None,
        timeout_s=20,
    )
    assert peak
    state = wait_for(
        "the device state naming the call",
        lambda: "Listen" in page.inner_text("#monitor-state") and page.inner_text("#monitor-state"),
    )
    assert world.call["telephonySessionId"] in state
    assert page.is_enabled("#coach")
    assert page.is_enabled("#barge")
    shot(page, "07-listening")


def test_coach_sends_the_microphone_to_the_agent_only(world: World) -> None:
    page = world.page
    box = page.locator("#coach").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    start = time.monotonic()
    try:
        wait_for("Coach mode", lambda: "Coach" in page.inner_text("#monitor-state"))
        wait_for("microphone frames sent", lambda: page.evaluate("window.callscope.mic.sent") > 100)
        shot(page, "08-coaching")
    finally:
        page.mouse.up()
    world.coach_window = (start, time.monotonic())
    wait_for("back to Listen", lambda: "— Listen" in page.inner_text("#monitor-state"))
    out = world.sim_output()
    assert world.sim is not None
    assert world.sim.returncode == 0, out
    # the simulator names the files by its own call id (the stream's callSid)
    sid = world.call["startMetadata"]["callSid"]
    _, agent = read_wav(world.tmp / "heard" / f"{sid}-agent-heard.wav")
    _, customer = read_wav(world.tmp / "heard" / f"{sid}-customer-heard.wav")
    agent, customer = agent.reshape(-1), customer.reshape(-1)
    agent_frames = np.abs(agent[: len(agent) // 160 * 160].reshape(-1, 160)).max(1)
    # ≥ 100 frames were sent while held; the browser's noise suppression fades a steady
    # tone (6000 → 1000 peak over 2 s), so "heard" is any frame well above μ-law silence
    loud = int((agent_frames > 300).sum())
    assert loud >= 90, f"the agent heard only {loud} 20 ms frames of the coach's tone"
    # the tone is there: the strongest frequency of the loudest second is 440 Hz
    idx = int(np.argmax(agent_frames))
    seg = agent[max(0, idx * 160 - 4000) : idx * 160 + 4000].astype(float)
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    peak_hz = float(np.argmax(spectrum)) * 8000 / len(seg)
    assert abs(peak_hz - TONE_HZ) < 20, peak_hz
    assert int(np.abs(customer).max(initial=0)) < 100, "the customer heard the coach"


def test_replay_with_transcript_and_insights(world: World) -> None:
    page = world.page
    page.wait_for_selector("#monitor-state:has-text('has ended')", timeout=30_000)
    page.click("a[data-view=history]")
    page.fill("#search-q", "password")
    page.click("form[role=search] button[type=submit]")
    page.wait_for_selector("tbody tr td:has-text('Alex Agent')")
    page.fill("#search-q", "no call says this")
    page.click("form[role=search] button[type=submit]")
    page.wait_for_selector("text=No calls match.")
    page.fill("#search-q", "password")
    page.click("form[role=search] button[type=submit]")
    page.click("tbody tr a:has-text('Replay')")

    def insights_shown() -> bool:
        if page.query_selector("#insights section[data-kind=Summary]"):
            return True
        page.reload()
        page.wait_for_selector("#replay-title")
        return False

    wait_for("the insights document", insights_shown, timeout_s=90)
    assert page.inner_text("#insights section[data-kind=Summary]").strip() != "Summary"
    assert page.query_selector("#insights section[data-kind=Highlights] li") is not None
    duration = wait_for(
        "the recording in the player",
        lambda: page.evaluate("document.getElementById('replay-audio').duration") or None,
    )
    assert duration == pytest.approx(CALL_FRAMES * 0.02, abs=1.0)
    # the transcript follows the audio: seek into the third utterance
    third = page.query_selector_all("#replay-transcript li")[2]
    start_ms = int(third.get_attribute("data-start") or 0)
    page.evaluate(
        "ms => { const a = document.getElementById('replay-audio'); a.currentTime = ms / 1000 + 0.2;"
        " a.dispatchEvent(new Event('timeupdate')); }",
        start_ms,
    )
    current = page.wait_for_selector("#replay-transcript li[aria-current=true]")
    assert current.get_attribute("data-start") == str(start_ms)
    with page.expect_download() as download:
        page.click("#download-json")
    saved = json.loads(Path(download.value.path()).read_text())
    assert saved["call"]["id"] == world.call["id"]
    assert saved["insights"]["sourceRecordId"] == world.call["id"]
    assert saved["transcript"]["utterances"]
    shot(page, "09-replay-insights")


def test_phone_sized_window_and_keyboard_only(world: World) -> None:
    context = world.browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(world.server.http + "/#/history")
        page.wait_for_selector("#login-user")
        page.focus("#login-user")
        page.keyboard.type(world.creds["username"])
        page.keyboard.press("Tab")
        page.keyboard.type(world.creds["password"])
        page.keyboard.press("Enter")
        page.wait_for_selector("tbody tr td:has-text('Alex Agent')")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page scrolls sideways by {overflow} px at phone size"
        # every form control has a label or an accessible name
        unlabeled = page.evaluate(
            """() => [...document.querySelectorAll('input, select, button')].filter(e =>
                 !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                 && !e.textContent.trim() && e.type !== 'hidden').map(e => e.outerHTML)"""
        )
        assert unlabeled == []
        shot(page, "10-history-phone")
        page.click("a[data-view=live]")
        page.wait_for_selector("#live-empty:not([hidden])")
        shot(page, "11-live-phone")
    finally:
        context.close()
