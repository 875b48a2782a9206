"""The workspace file browser in Debian's Chromium: a hostile file is shown as text, never run.

Uses test_browser's daphne server and Playwright page; the files are written before the browser
starts (no ORM calls while Playwright's loop runs).
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from tests import test_browser
from tests.builders import build_swarm
from tests.test_browser import ARTIFACTS, HARMLESS, HOSTILE_DOM_JS, log_in
from workspaces.services import file_write

# test_browser's fixtures: daphne, alice with a password, a Chromium page
server, account, browser_page = test_browser.server, test_browser.account, test_browser.browser_page

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HOSTILE = (
    "<script>window.__xss=1</script>\n"
    '<img src=x onerror="window.__xss=2">\n'
    '</code></li></ol><a href="javascript:window.__xss=3">click me</a>\n'
    "<style>body{display:none}</style>\n"
)
HOSTILE_PATH = "web/<svg onload=window.__xss=4>.html"


@pytest.fixture
def workspace(account: Any) -> Any:
    swarm = build_swarm(account, tasks=[{"name": "Write the page"}])
    task = swarm.tasks.get()
    file_write(swarm_id=swarm.id, path="src/app.py", content="def main():\n    return 1\n", task_id=task.id)
    file_write(swarm_id=swarm.id, path="src/app.py", content="def main():\n    return 2\n", task_id=task.id)
    file_write(swarm_id=swarm.id, path=HOSTILE_PATH, content=HOSTILE, task_id=task.id)
    return swarm


def test_the_file_browser_shows_a_hostile_file_as_text(
    workspace: Any, browser_page: tuple[Any, list[str]]
) -> None:
    page, problems = browser_page
    log_in(page)
    page.goto(f"/swarms/{workspace.id}/results")
    assert page.evaluate(HOSTILE_DOM_JS, None) == HARMLESS

    page.get_by_role("link", name="<svg onload=window.__xss=4>.html").click()
    page.wait_for_selector("#ws-content")
    assert page.locator("#ws-path").inner_text() == HOSTILE_PATH
    lines = page.locator("#ws-content > li").all_inner_texts()
    assert lines == HOSTILE.rstrip("\n").split("\n")  # every line, verbatim, as text
    assert page.evaluate(HOSTILE_DOM_JS, None) == HARMLESS
    assert page.evaluate(HOSTILE_DOM_JS, "#workspace") == HARMLESS
    assert page.locator("#workspace style, #workspace script, #workspace img").count() == 0
    page.get_by_text("click me").first.click()  # text, not a link
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("body").is_visible()

    page.get_by_role("link", name="app.py").click()  # the tree, then an older version from the history
    page.wait_for_selector("#ws-history")
    assert page.locator("#ws-content > li").all_inner_texts() == ["def main():", "    return 2"]
    page.get_by_role("link", name="v1").click()
    page.wait_for_function("() => document.getElementById('ws-content').innerText.includes('return 1')")
    assert "version 1 of 2" in page.locator(".ws-file-head").inner_text()

    zipped = page.request.get(page.locator("#workspace-zip").get_attribute("href"))
    assert zipped.ok and zipped.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(zipped.body())).namelist()
    assert f"{workspace.id}-workspace/{HOSTILE_PATH}" in names
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "workspace-browser.png"), full_page=True)
    assert problems == []
