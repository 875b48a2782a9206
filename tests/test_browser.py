"""The browser UI in Debian's Chromium (Playwright) against a real daphne process.

daphne serves HTTP and the WebSocket in the embedded shape: worker threads inside the server on the
in-memory broker, talking to this test's fake Claude, on the test database. The static files are
collected first, as in production (DEBUG is off, so the manifest storage serves them).

Django refuses ORM calls while Playwright's sync event loop runs in this thread, so every test
does its database work before the browser starts or after it closes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from tests.conftest import require_service
from tests.stack import ROOT, Process, stack_env, start_web

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "pw-alice"
ARTIFACTS = ROOT / "test-artifacts"
RUN_TIMEOUT_MS = 60_000
# functions, not expressions: Playwright evaluates a bare expression string with eval(), which the CSP refuses
TERMINAL_JS = (
    "() => ['completed', 'failed', 'stopped'].includes(document.getElementById('swarm-status').textContent)"
)
LIVE_JS = "() => document.getElementById('connection').dataset.state === 'live'"

# Structural XSS checks, run in the page: anything that could execute or leak is counted.
HOSTILE_DOM_JS = """(scope) => {
  const root = scope ? document.querySelectorAll(scope) : [document.documentElement];
  const all = [...root].flatMap((r) => [r, ...r.querySelectorAll('*')]);
  const ownScript = (s) => (s.src && new URL(s.src).origin === location.origin) || s.type === 'application/json';
  return {
    xss: typeof window.__xss,
    scripts: all.filter((e) => e.tagName === 'SCRIPT' && (scope || !ownScript(e))).length,
    onAttributes: all.filter((e) => [...e.attributes].some((a) => a.name.toLowerCase().startsWith('on'))).length,
    javascriptLinks: all.filter((e) => (e.getAttribute('href') || '').replace(/\\s/g, '').toLowerCase()
      .startsWith('javascript:')).length,
    offsiteImages: all.filter((e) => e.tagName === 'IMG' && new URL(e.src, location.href).origin !== location.origin).length,
  };
}"""
HARMLESS = {"xss": "undefined", "scripts": 0, "onAttributes": 0, "javascriptLinks": 0, "offsiteImages": 0}


@pytest.fixture
def server(transactional_db: None, fake_claude: Any, static_root: str) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        require_service("Chromium", False)
    fake_claude.configure(latency_ms=150, chunk_delay_ms=5)  # slow enough to watch the run live
    env = stack_env(
        redis_url="",  # empty = unset: in-memory broker and channel layer inside daphne
        claude_url=fake_claude.url,
        EMBEDDED_WORKERS="true",
        STATIC_ROOT=static_root,
        WS_HEARTBEAT="10000",  # the server drops clients silent for 20 s: the page's pings must work
    )
    web, base = start_web(env)
    try:
        yield base
    finally:
        stop_and_report(web)


def stop_and_report(web: Process) -> None:
    web.stop()
    output = web.output()
    if "Traceback" in output:  # make a server-side error visible in the test report
        print(output[-5000:])


@pytest.fixture
def account(alice: Any) -> Any:
    """alice, created before the browser starts (no ORM calls while Playwright's loop runs), with
    a password hash daphne can check: the test settings hash with MD5, which production refuses."""
    alice.password = PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt())
    alice.save(update_fields=["password"])
    return alice


@pytest.fixture
def browser_page(account: Any, server: str) -> Iterator[tuple[Any, list[str]]]:
    """A Chromium page and the list of JS errors / CSP violations it reported."""
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(base_url=server, viewport={"width": 1366, "height": 900})
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("console", lambda message: record_console(message, problems))
        page.set_default_timeout(15_000)
        try:
            yield page, problems
        finally:
            browser.close()


def record_console(message: Any, problems: list[str]) -> None:
    text = message.text
    if message.type == "error" or "Content Security Policy" in text or "Refused to" in text:
        problems.append(f"console {message.type}: {text}")


def log_in(page: Any) -> None:
    page.goto("/login")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")
    assert page.locator(".username").inner_text() == "alice"


def create_swarm(page: Any, objective: str) -> str:
    """Through the dashboard form; returns the swarm id of the page it lands on."""
    page.fill("#id_objective", objective)
    page.select_option("#id_strategy", "development")
    page.fill("#id_max_agents", "2")
    assert page.is_checked("#id_start_now")  # on by default
    page.click("text=Create swarm")
    page.wait_for_url("**/swarms/*")
    return page.locator("#swarm-page").get_attribute("data-swarm-id")


def wait_until_finished(page: Any) -> None:
    page.wait_for_function(TERMINAL_JS, timeout=RUN_TIMEOUT_MS)
    status = page.locator("#swarm-status").inner_text().strip()
    assert status == "completed", f"swarm ended {status}: {page.locator('#log').inner_text()[-3000:]}"


def task_counts(page: Any) -> dict[str, int]:
    return {
        group: page.locator(f"#tasks-{group} > li").count()
        for group in ("pending", "running", "completed", "failed")
    }


def test_a_swarm_runs_live_on_its_page(browser_page: tuple[Any, list[str]]) -> None:
    page, problems = browser_page
    log_in(page)
    swarm_id = create_swarm(page, "Build a small command-line calculator with tests")
    page.evaluate("window.__sameDocument = true")
    assert page.locator("#swarm-status").inner_text().strip() not in ("completed", "failed", "stopped")
    page.wait_for_function(LIVE_JS)

    wait_until_finished(page)
    counts = task_counts(page)
    assert counts["completed"] > 0 and counts["pending"] == counts["running"] == counts["failed"] == 0, counts
    assert page.evaluate("window.__sameDocument") is True  # updated live, never reloaded
    assert "(100%)" in page.locator("#progress-text").inner_text()
    assert page.evaluate(
        "(() => { const p = document.getElementById('swarm-progress'); return p.value === p.max; })()"
    )
    assert page.locator("#agents-body tr[data-agent-id]").count() >= 1
    assert page.locator("#log > li").count() > 5 and "Swarm completed" in page.locator("#log").inner_text()
    assert page.locator("#connection").inner_text() == "Live"
    assert page.is_disabled("button[data-action=stop]") and page.is_disabled("button[data-action=pause]")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "swarm-page.png"), full_page=True)

    page.click("#results-link")
    page.wait_for_url(f"**/swarms/{swarm_id}/results")
    assert page.locator(".md").count() == counts["completed"]
    assert page.locator(".md h2").count() >= 1 and page.locator(".md pre code").count() >= 1
    link = page.locator("a.artifact-link").first
    download = page.request.get(link.get_attribute("href"))
    assert download.ok and download.headers["content-type"] == "text/plain; charset=utf-8"
    assert download.headers["content-disposition"].startswith("attachment; filename=")
    page.screenshot(path=str(ARTIFACTS / "results-page.png"), full_page=True)
    assert problems == []


def test_hostile_model_output_stays_inert(browser_page: tuple[Any, list[str]]) -> None:
    page, problems = browser_page
    log_in(page)
    swarm_id = create_swarm(page, "Write a friendly greeting module [[fake:xss]]")
    wait_until_finished(page)
    assert page.evaluate(HOSTILE_DOM_JS, None) == HARMLESS

    page.goto(f"/swarms/{swarm_id}/results")
    assert page.locator(".md").count() >= 1
    shown = page.locator(".md").first.inner_text()
    assert "<script>window.__xss=1</script>" in shown  # the hostile markup arrived, as inert text
    assert "[image: tracker]" in shown  # the tracker's alt text, not the image
    assert page.evaluate(HOSTILE_DOM_JS, None) == HARMLESS
    assert page.evaluate(HOSTILE_DOM_JS, ".md") == HARMLESS
    click_me = page.get_by_text("click me")
    if click_me.count():
        click_me.first.click()
        page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__xss") == "undefined"

    page.goto(f"/swarms/{swarm_id}")  # the live page again, rendered from the finished state
    page.wait_for_function(LIVE_JS)
    assert page.evaluate(HOSTILE_DOM_JS, None) == HARMLESS
    assert problems == []


def test_a_dropped_socket_reconnects_and_misses_nothing(
    browser_page: tuple[Any, list[str]], fake_claude: Any
) -> None:
    page, problems = browser_page
    fake_claude.configure(latency_ms=700)  # a run long enough to cut its stream mid-way
    sockets: list[Any] = []

    def proxy(route: Any) -> None:  # forwards both ways; the test can cut the page's side
        route.connect_to_server()
        sockets.append(route)

    page.route_web_socket("**/ws", proxy)
    log_in(page)
    create_swarm(page, "Build a small command-line calculator with tests")
    page.wait_for_function(LIVE_JS)
    page.wait_for_function("() => document.querySelectorAll('#tasks-pending > li').length > 0")
    sockets[-1].close(code=1011, reason="test drops the connection")
    page.wait_for_function("() => document.getElementById('connection').dataset.state === 'reconnecting'")
    page.wait_for_function(LIVE_JS)
    assert len(sockets) == 2

    wait_until_finished(page)
    counts = task_counts(page)
    assert counts["completed"] > 0 and counts["pending"] == counts["running"] == counts["failed"] == 0, counts
    log_ids = page.eval_on_selector_all("#log > li", "(lines) => lines.map((l) => l.dataset.logId)")
    assert len(log_ids) == len(set(log_ids))  # replayed from the last event applied: no repeats
    assert page.locator("#log").inner_text().count("Swarm completed") == 1
    assert problems == []


def status_is(status: str) -> str:
    return f"() => document.getElementById('swarm-status').textContent === '{status}'"


def test_pause_resume_and_stop_over_the_socket(browser_page: tuple[Any, list[str]], fake_claude: Any) -> None:
    page, problems = browser_page
    fake_claude.configure(latency_ms=1500)  # the run must still be going when the buttons are pressed
    log_in(page)
    swarm_id = create_swarm(page, "Build a small command-line calculator with tests")
    page.wait_for_function(LIVE_JS)
    page.wait_for_function(status_is("executing"), timeout=RUN_TIMEOUT_MS)
    assert page.is_disabled("button[data-action=resume]")
    page.click("button[data-action=pause]")
    page.wait_for_function(status_is("paused"))
    assert page.is_disabled("button[data-action=pause]") and page.is_enabled("button[data-action=resume]")
    page.click("button[data-action=resume]")
    page.wait_for_function(status_is("executing"))
    page.click("button[data-action=stop]")
    page.wait_for_function(status_is("stopped"))
    assert page.is_visible("#results-link") and page.is_disabled("button[data-action=stop]")
    assert "stopped by request" in page.locator("#failure-reason").inner_text()
    assert page.locator("#command-error").is_hidden()
    page.reload()  # the server-rendered page agrees
    assert page.locator("#swarm-status").inner_text() == "stopped"
    assert page.url.endswith(f"/swarms/{swarm_id}") and problems == []
