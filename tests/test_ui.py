"""The browser UI through Django's test client: auth, pages, forms, tenancy, sanitising, headers."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client

from access.models import ApiKey, hash_key
from events.models import Event, LogEntry
from swarms.models import Swarm
from swarms.services import swarm_create
from tasks.models import Task
from tests.builders import build_swarm
from tests.conftest import OBJECTIVE
from ui.markdown import render_markdown, sanitize

pytestmark = pytest.mark.django_db

HOSTILE_MARKDOWN = """## Report

```python
print("hello")
```

<script>window.__xss=1</script>

<img src=x onerror="window.__xss=1">

[click me](javascript:window.__xss=1) and [shout](JaVaScRiPt:alert(1))

![tracker](https://evil.example/pixel.png)

<a href="#" onclick="window.__xss=1">link</a>
"""


# --- helpers ---------------------------------------------------------------------------------------


class Markup(HTMLParser):
    """Every start tag with its attributes, to assert on structure rather than on substrings
    (escaped hostile text such as `&lt;img onerror=…&gt;` is harmless and may appear as text)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    def named(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.tags if name == tag]


def assert_harmless(html: str) -> None:
    markup = Markup(html)
    for tag, attrs in markup.tags:
        assert not [a for a in attrs if a.lower().startswith("on")], (tag, attrs)
        assert "style" not in attrs, (tag, attrs)  # the CSP refuses inline style
        href = re.sub(r"\s", "", attrs.get("href", "")).lower()
        if tag != "link":  # <link rel="icon" href="data:,"> is the page's own empty favicon
            assert not href.startswith(("javascript:", "data:", "vbscript:")), (tag, attrs)
        if tag == "img":
            assert attrs.get("src", "").startswith("/") and not attrs["src"].startswith("//"), attrs
        if tag == "script":  # only our own static files, or non-executable JSON data
            assert attrs.get("src", "").startswith("/static/") or attrs.get("type") == "application/json"
    assert not markup.named("style") and not markup.named("iframe")


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def valid_form(**overrides: Any) -> dict[str, Any]:
    form = {
        "objective": OBJECTIVE,
        "strategy": "development",
        "mode": "centralized",
        "max_agents": "3",
        "parallel": "on",
        "start_now": "on",
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def completed_task(swarm: Swarm, **fields: Any) -> Task:
    task = Task.objects.filter(swarm=swarm).order_by("sequence").first()
    defaults = {
        "status": "completed",
        "output": "## Done\n\nAll good.",
        "quality": 0.9,
        "execution_time_ms": 1200,
    }
    Task.objects.filter(pk=task.pk).update(**{**defaults, **fields})
    task.refresh_from_db()
    return task


@pytest.fixture
def alice_client(alice: Any) -> Client:
    return logged_in(alice)


@pytest.fixture
def bob_client(bob: Any) -> Client:
    return logged_in(bob)


@pytest.fixture
def built(alice: Any) -> Swarm:
    """A planned swarm with two agents and a dependency between its two tasks."""
    return build_swarm(
        alice,
        agents=[("coder", "coder-one"), ("tester", "tester-one")],
        tasks=[
            {"name": "Write the parser"},
            {"name": "Test the parser", "type": "testing", "depends_on": [0]},
        ],
    )


# --- login / logout --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/keys", "/swarms/swarm_x", "/swarms/swarm_x/results",
                                  "/swarms/swarm_x/tasks/task_x/artifacts/0", "/swarms/swarm_x/state"])  # fmt: skip
def test_pages_need_a_login(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login?next=")


def test_log_in_with_the_form_and_log_out_with_post(alice: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    page = client.get("/login")
    assert page.status_code == 200 and b'name="csrfmiddlewaretoken"' in page.content
    token = page.cookies["csrftoken"].value
    response = client.post(
        "/login", {"username": "alice", "password": "pw-alice", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302 and response["Location"] == "/"
    dashboard = client.get("/")
    assert dashboard.status_code == 200 and b"alice" in dashboard.content
    assert client.get("/logout").status_code == 405  # logging out is a POST
    response = client.post("/logout", {"csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    assert response.status_code == 302 and response["Location"] == "/login"
    assert client.get("/").status_code == 302


def test_login_refuses_a_bad_password_and_a_missing_csrf_token(alice: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    token = client.get("/login").cookies["csrftoken"].value
    bad = client.post("/login", {"username": "alice", "password": "nope", "csrfmiddlewaretoken": token})
    assert bad.status_code == 200 and b"did not match" in bad.content
    assert client.post("/login", {"username": "alice", "password": "pw-alice"}).status_code == 403


def test_the_header_shows_admin_only_to_staff(alice_client: Client, staff: Any) -> None:
    assert b"/admin/" not in alice_client.get("/").content
    page = logged_in(staff).get("/").content.decode()
    assert "/admin/" in page and "/api/docs" in page and "Log out" in page and "operator" in page


# --- dashboard -------------------------------------------------------------------------------------


def test_the_dashboard_lists_only_my_swarms_newest_first(alice: Any, bob: Any, alice_client: Client) -> None:
    first = swarm_create(owner=alice, objective="The first objective of alice")
    second = swarm_create(owner=alice, objective="The second objective of alice")
    swarm_create(owner=bob, objective="A secret objective of bob")
    page = alice_client.get("/").content.decode()
    assert page.index(second.name) < page.index(first.name)
    assert "secret objective of bob" not in page
    assert 'class="badge badge-planning"' in page and "<progress" in page and "$0.0000" in page


def test_the_dashboard_paginates_by_twenty(alice: Any, alice_client: Client) -> None:
    for n in range(23):
        Swarm.objects.create(owner=alice, name=f"swarm number {n:02d}", objective=OBJECTIVE)
    first, second = alice_client.get("/"), alice_client.get("/?page=2")
    assert len(re.findall(r"<tr data-swarm-id=", first.content.decode())) == 20
    assert len(re.findall(r"<tr data-swarm-id=", second.content.decode())) == 3
    assert b"Page 2 of 2" in second.content


def test_creating_a_swarm_starts_it_when_asked(alice: Any, alice_client: Client) -> None:
    response = alice_client.post("/", valid_form(max_tokens="5000", max_cost_usd="1.5"))
    swarm = Swarm.objects.get(owner=alice)
    assert response.status_code == 302 and response["Location"] == f"/swarms/{swarm.id}"
    assert (swarm.strategy, swarm.mode, swarm.max_agents, swarm.parallel) == (
        "development",
        "centralized",
        3,
        True,
    )
    assert swarm.options == {"budget": {"maxTokens": 5000, "maxCostUsd": 1.5}}
    assert swarm.start_requested is True and swarm.status == "planning"


def test_creating_a_swarm_without_starting_it(alice: Any, alice_client: Client) -> None:
    alice_client.post(
        "/", valid_form(start_now=None, parallel=None, strategy="microservices", mode="distributed")
    )
    swarm = Swarm.objects.get(owner=alice)
    assert swarm.start_requested is False and swarm.parallel is False
    assert (swarm.strategy, swarm.mode, swarm.options) == ("microservices", "distributed", {})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"objective": "too short"}, "at least 10 characters"),
        ({"objective": "Build a thing\x07 with a bell"}, "control character (U+0007)"),
        ({"max_agents": "0"}, "greater than or equal to 1"),
        ({"max_agents": "51"}, "less than or equal to 50"),
        ({"max_agents": "many"}, "Enter a whole number"),
        ({"max_tokens": "0"}, "greater than or equal to 1"),
        ({"max_cost_usd": "0"}, "greater than or equal to 1e-06"),
        ({"max_cost_usd": "-2"}, "greater than or equal to 1e-06"),
        ({"strategy": "chaos"}, "Select a valid choice"),
    ],
)
def test_the_create_form_refuses_what_the_api_refuses(
    alice_client: Client, overrides: dict[str, str], message: str
) -> None:
    response = alice_client.post("/", valid_form(**overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert 'class="errorlist' in response.content.decode()
    assert not Swarm.objects.exists()


def test_the_create_form_respects_the_deployment_agent_maximum(alice_client: Client, settings: Any) -> None:
    settings.MAX_AGENTS_PER_SWARM = 2
    response = alice_client.post("/", valid_form(max_agents="3"))
    assert response.status_code == 400 and b"maximum of 2 agents per swarm" in response.content


def test_the_create_form_is_rate_limited_like_the_api(alice_client: Client, settings: Any) -> None:
    settings.SWARM_CREATE_RATE = "1/h"
    assert alice_client.post("/", valid_form()).status_code == 302
    response = alice_client.post("/", valid_form())
    assert response.status_code == 429
    match = re.search(r"Try again in (\d+) s", response.content.decode())
    assert match and 0 < int(match.group(1)) <= 3600
    assert Swarm.objects.count() == 1


def test_the_create_form_reports_max_swarms(
    alice_client: Client, swarm_of_alice: Swarm, settings: Any
) -> None:
    settings.MAX_SWARMS = 1
    response = alice_client.post("/", valid_form())
    assert response.status_code == 409
    assert "maxSwarms is 1" in response.content.decode()
    assert Swarm.objects.count() == 1


# --- swarm page ------------------------------------------------------------------------------------


def test_the_swarm_page_renders_the_state_and_the_stream_position(alice_client: Client, built: Swarm) -> None:
    LogEntry.objects.create(swarm=built, source="Test", message="A line <b>not bold</b>")
    last = Event.objects.filter(swarm=built).order_by("-id").first()
    page = alice_client.get(f"/swarms/{built.id}").content.decode()
    assert f'data-swarm-id="{built.id}"' in page and f'data-last-event-id="{last.id}"' in page
    assert 'data-ws-path="/ws"' in page
    assert '<script id="swarm-state" type="application/json">' in page
    assert 'id="swarm-status" class="badge badge-ready"' in page
    assert "coder-one" in page and "tester-one" in page
    pending = page.split('id="tasks-pending"')[1].split("</ul>")[0]
    assert "Write the parser" in pending and "Depends on: Write the parser" in pending
    assert "A line &lt;b&gt;not bold&lt;/b&gt;" in page and 'aria-live="polite"' in page
    assert 'data-action="pause" disabled' in page and 'data-action="stop">' in page
    assert 'id="results-link" class="button primary" href="/swarms/' in page and "hidden" in page


def test_the_swarm_page_of_a_finished_swarm_links_to_results(alice_client: Client, built: Swarm) -> None:
    Swarm.objects.filter(pk=built.pk).update(status="failed", failure_reason="budget_exhausted")
    page = alice_client.get(f"/swarms/{built.id}").content.decode()
    assert f'href="/swarms/{built.id}/results">View results' in page
    assert "Reason: budget_exhausted" in page
    assert 'data-action="stop" disabled' in page


def test_the_swarm_page_escapes_what_users_and_models_wrote(alice: Any, alice_client: Client) -> None:
    swarm = swarm_create(owner=alice, objective='Objective with <script>alert("x")</script> inside')
    page = alice_client.get(f"/swarms/{swarm.id}").content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert" in page
    assert_harmless(page)


def test_start_from_the_page(alice_client: Client, built: Swarm) -> None:
    response = alice_client.post(f"/swarms/{built.id}/start")
    assert response.status_code == 302
    built.refresh_from_db()
    assert built.status == "executing"


def test_the_state_endpoint_gives_spend(alice_client: Client, built: Swarm) -> None:
    Swarm.objects.filter(pk=built.pk).update(input_tokens=10, output_tokens=5)
    data = alice_client.get(f"/swarms/{built.id}/state").json()
    assert data["swarm"]["spend"]["totalTokens"] == 15 and len(data["agents"]) == 2


def test_staff_see_every_swarm(staff: Any, built: Swarm) -> None:
    client = logged_in(staff)
    assert client.get(f"/swarms/{built.id}").status_code == 200
    assert built.name in client.get("/").content.decode()


# --- tenancy ---------------------------------------------------------------------------------------


def test_another_users_swarm_is_a_404_everywhere(bob_client: Client, built: Swarm) -> None:
    task = completed_task(built, artifacts=[{"path": "a.py", "language": "python", "content": "x = 1"}])
    base = f"/swarms/{built.id}"
    for path in (base, f"{base}/results", f"{base}/state", f"{base}/tasks/{task.id}/artifacts/0"):
        assert bob_client.get(path).status_code == 404, path
    assert bob_client.post(f"{base}/start").status_code == 404
    built.refresh_from_db()
    assert built.status == "ready"


# --- results ---------------------------------------------------------------------------------------


def test_results_render_markdown_and_every_figure(alice_client: Client, built: Swarm) -> None:
    completed_task(built, output="## Parser design\n\n```python\ndef parse():\n    return 1\n```\n")
    page = alice_client.get(f"/swarms/{built.id}/results").content.decode()
    assert "<h2>Parser design</h2>" in page
    assert "<pre><code>def parse():" in page
    for label in ("Overall quality", "Makespan", "Efficiency", "Throughput", "Reliability", "Claude calls"):
        assert label in page
    assert "Spend by task" in page and "Spend by agent" in page and "coder-one" in page


def test_results_sanitise_hostile_output(alice_client: Client, built: Swarm) -> None:
    completed_task(built, output=HOSTILE_MARKDOWN)
    page = alice_client.get(f"/swarms/{built.id}/results").content.decode()
    assert_harmless(page)
    assert "<h2>Report</h2>" in page and "[image: tracker]" in page
    assert "evil.example" not in page


def test_artifacts_are_listed_and_downloaded(alice_client: Client, built: Swarm) -> None:
    artifacts = [
        {"path": "src/app.py", "language": "python", "content": "print('héllo')\n"},
        {"path": '../../etc/pa"ss\nwd', "language": "", "content": "<script>x</script>"},
    ]
    task = completed_task(built, artifacts=artifacts)
    page = alice_client.get(f"/swarms/{built.id}/results").content.decode()
    url = f"/swarms/{built.id}/tasks/{task.id}/artifacts/0"
    assert f'href="{url}"' in page and "src/app.py" in page and "16 B" in page
    response = alice_client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="app.py"'
    assert response.content.decode() == "print('héllo')\n"
    odd = alice_client.get(f"/swarms/{built.id}/tasks/{task.id}/artifacts/1")
    assert odd["Content-Disposition"] == 'attachment; filename="passwd"'
    assert odd["Content-Type"] == "text/plain; charset=utf-8" and odd["X-Content-Type-Options"] == "nosniff"


def test_bad_artifact_addresses_are_404(alice: Any, alice_client: Client, built: Swarm) -> None:
    task = completed_task(built, artifacts=[{"path": "a.py", "language": "python", "content": "x"}])
    other = build_swarm(alice, tasks=[{"name": "Elsewhere"}])
    other_task = Task.objects.get(swarm=other)
    assert alice_client.get(f"/swarms/{built.id}/tasks/{task.id}/artifacts/1").status_code == 404
    assert alice_client.get(f"/swarms/{built.id}/tasks/task_nope/artifacts/0").status_code == 404
    assert alice_client.get(f"/swarms/{other.id}/tasks/{task.id}/artifacts/0").status_code == 404
    assert alice_client.get(f"/swarms/{built.id}/tasks/{other_task.id}/artifacts/0").status_code == 404


# --- the sanitiser on its own ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "<script>window.__xss=1</script>",
        '<img src=x onerror="window.__xss=1">',
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](  javascript:alert(1))",
        "[click](java&#x09;script:alert(1))",
        "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "![pixel](https://evil.example/p.png)",
        "![pixel](//evil.example/p.png)",
        "![inline](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
        '<a href="JaVaScRiPt:alert(1)">x</a>',
        '<div onclick="x()"><b onmouseover="y()">nested <i>markup</i></b></div>',
        '<svg><script>alert(1)</script></svg><iframe src="https://evil.example"></iframe>',
        "**bold [link](javascript:alert(1)) _inside_**",
        '<p style="background:url(https://evil.example)">styled</p>',
        "> quote <script>alert(1)</script>\n> ![x](https://evil.example/q.png)",
    ],
)
def test_the_markdown_renderer_neutralises(source: str) -> None:
    html = render_markdown(source)
    assert_harmless(html)
    assert not Markup(html).named("img") and not Markup(html).named("script")
    assert "evil.example" not in "".join(str(attrs) for _, attrs in Markup(html).tags)


def test_the_markdown_renderer_keeps_useful_markup() -> None:
    html = render_markdown(
        "# Title\n\nSome **bold**, `code` and [a link](https://example.com).\n\n"
        "| a | b |\n|---|--:|\n| 1 | 2 |\n\n```js\nlet x = 1;\n```\n\n- one\n- two\n\n![diagram](/static/d.png)"
    )
    assert "<h1>Title</h1>" in html and "<strong>bold</strong>" in html and "<code>code</code>" in html
    assert '<a href="https://example.com" rel="noopener noreferrer nofollow">a link</a>' in html
    assert "<table>" in html and "<td>2</td>" in html  # the alignment style is dropped, the cell kept
    assert "<pre><code>let x = 1;\n</code></pre>" in html and "<li>two</li>" in html
    assert '<span class="md-image-alt">[image: diagram]</span>' in html


def test_the_sanitiser_alone_cleans_raw_html() -> None:
    html = sanitize(
        '<a href="JaVaScRiPt:x" onclick="y">a</a><img src="https://evil.example/i.png" onerror="z">'
        '<span class="evil md-image-alt">s</span><a href="mailto:a@b.c">m</a>'
    )
    assert html == (
        '<a rel="noopener noreferrer nofollow">a</a><span class="md-image-alt">s</span>'
        '<a href="mailto:a@b.c" rel="noopener noreferrer nofollow">m</a>'
    )


# --- API keys --------------------------------------------------------------------------------------


def test_a_new_key_is_shown_once(alice: Any, alice_client: Client) -> None:
    response = alice_client.post(
        "/keys", {"name": "ci", "permissions": ["read", "write"], "expires_in_days": "30"}
    )
    assert response.status_code == 302 and response["Location"] == "/keys"
    page = alice_client.get("/keys")
    raw = re.search(r'value="(cf_[0-9a-f]+)"', page.content.decode()).group(1)
    key = ApiKey.objects.get(owner=alice)
    assert key.key_hash == hash_key(raw) and key.permissions == ["read", "write"] and key.expires_at
    assert "no-store" in page["Cache-Control"]
    again = alice_client.get("/keys").content.decode()
    assert raw not in again and f"{key.prefix}…" in again and "ci" in again


def test_the_key_list_is_mine_and_shows_usage(alice: Any, bob: Any, alice_client: Client) -> None:
    from access.services import apikey_create

    mine, _ = apikey_create(owner=alice, name="deploy-bot", permissions=["read"])
    ApiKey.objects.filter(pk=mine.pk).update(usage_count=7)
    apikey_create(owner=bob, name="bobs-secret-key", permissions=["admin"])
    page = alice_client.get("/keys").content.decode()
    assert "deploy-bot" in page and "bobs-secret-key" not in page
    assert '<td class="num">7</td>' in page and 'badge-active">active' in page


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"name": "x", "permissions": ["read"], "expires_in_days": "0"}, "greater than or equal to 1"),
        ({"name": "", "permissions": ["read"]}, "This field is required"),
        ({"name": "x", "permissions": ["root"]}, "Select a valid choice"),
        ({"name": "x"}, "at least 1"),
    ],
)
def test_the_key_form_refuses_bad_input(alice_client: Client, form: dict[str, Any], message: str) -> None:
    response = alice_client.post("/keys", form)
    assert response.status_code == 400 and message in response.content.decode()
    assert not ApiKey.objects.exists()


def test_revoking_a_key(alice: Any, bob: Any, alice_client: Client, bob_client: Client) -> None:
    from access.services import apikey_create

    key, _ = apikey_create(owner=alice, name="old", permissions=["read"])
    assert 'data-confirm="Revoke the key' in alice_client.get("/keys").content.decode()
    assert bob_client.post(f"/keys/{key.id}/revoke").status_code == 404
    assert alice_client.get(f"/keys/{key.id}/revoke").status_code == 405
    assert alice_client.post(f"/keys/{key.id}/revoke").status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    page = alice_client.get("/keys").content.decode()
    assert 'badge-revoked">revoked' in page and "API key “old” revoked." in page
    again = alice_client.post(f"/keys/{key.id}/revoke", follow=True)
    assert "already revoked" in again.content.decode()


# --- security headers and CSP-compatible markup ----------------------------------------------------


def test_every_page_carries_the_security_headers(alice_client: Client, built: Swarm) -> None:
    completed_task(built, output=HOSTILE_MARKDOWN)
    paths = ["/", "/keys", f"/swarms/{built.id}", f"/swarms/{built.id}/results"]
    responses = [alice_client.get(p) for p in paths] + [Client().get("/login")]
    for response in responses:
        assert response.status_code == 200
        csp = response["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"]
        assert_harmless(response.content.decode())  # nothing the CSP would refuse: no inline code


def test_pages_use_only_local_static_assets(alice_client: Client) -> None:
    markup = Markup(alice_client.get("/").content.decode())
    sources = [a.get("src", "") for a in markup.named("script")] + [a["href"] for a in markup.named("link")]
    assert sources and all(s.startswith("/static/") or s == "data:," for s in sources)
