"""The workspace file browser on the results page (Django's test client; Chromium in
test_workspace_browser.py): tree, content with line numbers, history, downloads, tenancy."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from django.test import Client

from swarms.models import Swarm
from tests.builders import build_swarm
from tests.test_ui import assert_harmless, logged_in
from workspaces.services import file_write

pytestmark = pytest.mark.django_db

HOSTILE = (
    '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">\n</code></li></ol><b>bold</b>\n'
)


@pytest.fixture
def swarm(alice: Any) -> Swarm:
    swarm = build_swarm(alice, tasks=[{"name": "Write the code"}])
    task = swarm.tasks.get()
    file_write(swarm_id=swarm.id, path="src/app.py", content="print(1)\n", task_id=task.id)
    file_write(swarm_id=swarm.id, path="src/app.py", content="print(1)\nprint(2)\n", task_id=task.id)
    file_write(swarm_id=swarm.id, path="README.md", content="# Readme\n")
    file_write(swarm_id=swarm.id, path="<img src=x onerror=alert(1)>.html", content=HOSTILE)
    return swarm


def page_of(client: Client, swarm: Swarm, query: str = "") -> str:
    response = client.get(f"/swarms/{swarm.id}/results{query}")
    assert response.status_code == 200
    return response.content.decode()


def test_the_results_page_shows_the_tree_and_the_zip_link(alice: Any, swarm: Swarm) -> None:
    page = page_of(logged_in(alice), swarm)
    assert 'id="workspace"' in page and "3 files" in page
    assert "<summary>src/</summary>" in page
    assert 'href="?file=src%2Fapp.py#workspace"' in page
    assert f'href="/swarms/{swarm.id}/workspace.zip"' in page
    assert "Choose a file" in page
    assert_harmless(page)


def test_a_chosen_file_is_shown_with_line_numbers_and_history(alice: Any, swarm: Swarm) -> None:
    page = page_of(logged_in(alice), swarm, "?file=src/app.py")
    assert '<li id="L1"><code>print(1)</code></li><li id="L2"><code>print(2)</code></li>' in page
    assert '<li id="L3">' not in page  # the final newline starts no line
    assert "version 2 of 2" in page
    assert "1. Write the code" in page  # the task that wrote each version
    assert 'href="?file=src%2Fapp.py&amp;version=1#workspace"' in page
    older = page_of(logged_in(alice), swarm, "?file=src/app.py&version=1")
    assert "version 1 of 2" in older and '<li id="L2">' not in older


def test_hostile_content_and_paths_are_text(alice: Any, swarm: Swarm) -> None:
    client = logged_in(alice)
    page = page_of(client, swarm, "?file=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E.html")
    assert_harmless(page)
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in page
    assert "<b>bold</b>" not in page


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("?file=nope.py", "There is no file nope.py"),
        ("?file=../etc/passwd", "paths cannot leave the workspace"),
        ("?file=src/app.py&version=7", "no version 7"),
        ("?file=src/app.py&version=x", "whole number"),
    ],
)
def test_a_bad_choice_is_explained_on_the_page(alice: Any, swarm: Swarm, query: str, says: str) -> None:
    page = page_of(logged_in(alice), swarm, query)
    assert 'id="ws-error"' in page and says in page


def test_an_empty_workspace_says_so(alice: Any) -> None:
    swarm = build_swarm(alice)
    page = page_of(logged_in(alice), swarm)
    assert "The agents have written no files." in page and "workspace.zip" not in page


def test_the_zip_and_a_file_download(alice: Any, swarm: Swarm) -> None:
    client = logged_in(alice)
    response = client.get(f"/swarms/{swarm.id}/workspace.zip")
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="{swarm.id}-workspace.zip"'
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert f"{swarm.id}-workspace/src/app.py" in names and len(names) == 3
    one = client.get(f"/swarms/{swarm.id}/workspace/file?file=src/app.py&version=1")
    assert one.content == b"print(1)\n"
    assert one["Content-Disposition"] == 'attachment; filename="app.py"'
    assert one["Content-Type"] == "text/plain; charset=utf-8"
    assert client.get(f"/swarms/{swarm.id}/workspace/file?file=nope").status_code == 404


def test_others_get_404_for_every_workspace_page(bob: Any, swarm: Swarm) -> None:
    client = logged_in(bob)
    for url in ("/results?file=src/app.py", "/workspace.zip", "/workspace/file?file=src/app.py"):
        assert client.get(f"/swarms/{swarm.id}{url}").status_code == 404, url


def test_the_results_page_queries_do_not_grow_with_files(
    alice: Any, swarm: Swarm, django_assert_max_num_queries: Any
) -> None:
    client = logged_in(alice)
    with django_assert_max_num_queries(40) as before:
        page_of(client, swarm, "?file=src/app.py")
    for n in range(20):
        file_write(swarm_id=swarm.id, path=f"more/f{n}.txt", content=f"{n}\n")
        file_write(swarm_id=swarm.id, path=f"more/f{n}.txt", content=f"{n} again\n")
    with django_assert_max_num_queries(len(before.captured_queries)):
        page_of(client, swarm, "?file=src/app.py")
