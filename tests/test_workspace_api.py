"""The workspace over REST: list, a file (versions, raw, history), the zip; owner-only."""

from __future__ import annotations

import io
import zipfile

import pytest

from tests.helpers import admin_url
from workspaces import archive
from workspaces.services import file_write

pytestmark = pytest.mark.django_db


@pytest.fixture
def files(swarm_of_alice):
    def write(path, content):
        return file_write(swarm_id=swarm_of_alice.id, path=path, content=content)

    write("src/app.py", "print('v1')\n")
    write("src/app.py", "print('v2')\n")
    write("README.md", "# Hello\n")
    write("docs/deep/history", "a file named like the history flag\n")
    return swarm_of_alice


def url(swarm, suffix=""):
    return f"/api/swarm/{swarm.id}/workspace{suffix}"


def test_the_list_has_the_latest_version_of_each_file(client_of_alice, files, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):  # credentials, the swarm, the list
        response = client_of_alice.get(url(files))
    assert response.status_code == 200
    body = response.json()
    assert body["swarmId"] == files.id and body["count"] == 3
    assert [f["path"] for f in body["files"]] == ["README.md", "docs/deep/history", "src/app.py"]
    app = body["files"][2]
    assert (app["version"], app["versions"], app["size"], app["taskId"]) == (2, 2, 12, None)
    assert len(app["sha256"]) == 64 and app["updatedAt"]
    assert body["totalBytes"] == sum(f["size"] for f in body["files"])


def test_a_file_with_its_content_and_metadata(client_of_alice, files):
    body = client_of_alice.get(url(files, "/src/app.py")).json()
    assert (body["path"], body["version"], body["versions"], body["content"]) == (
        "src/app.py",
        2,
        2,
        "print('v2')\n",
    )
    older = client_of_alice.get(url(files, "/src/app.py?version=1")).json()
    assert (older["version"], older["versions"], older["content"]) == (1, 2, "print('v1')\n")


def test_a_path_is_normalized_in_the_url_too(client_of_alice, files):
    assert client_of_alice.get(url(files, "/./src//app.py")).status_code == 400  # '//' is refused
    assert client_of_alice.get(url(files, "/./src/app.py")).json()["path"] == "src/app.py"


def test_raw_content_is_plain_text_never_sniffed(client_of_alice, swarm_of_alice):
    file_write(swarm_id=swarm_of_alice.id, path="x.html", content="<script>alert(1)</script>")
    response = client_of_alice.get(url(swarm_of_alice, "/x.html?raw=1"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert response.content == b"<script>alert(1)</script>"


def test_history_lists_every_version_without_content(client_of_alice, files):
    body = client_of_alice.get(url(files, "/src/app.py?history=1")).json()
    assert body["path"] == "src/app.py"
    assert [v["version"] for v in body["versions"]] == [1, 2]
    assert "content" not in body["versions"][0]


def test_a_file_named_history_is_still_a_file(client_of_alice, files):
    body = client_of_alice.get(url(files, "/docs/deep/history")).json()
    assert body["content"] == "a file named like the history flag\n"


@pytest.mark.parametrize(
    ("suffix", "status", "says"),
    [
        ("/nope.py", 404, "There is no file nope.py"),
        ("/src/app.py?version=9", 404, "no version 9"),
        ("/src/app.py?version=0", 400, "version"),
        ("/src/app.py?version=x", 400, "version"),
        ("/src/app.py?version=%C2%B2", 400, "version"),  # "²" is a digit to str.isdigit, not to int()
        ("/src/app.py?version=99999999999999999999", 400, "version"),
        ("/..%2F..%2Fetc%2Fpasswd", 400, "'..'"),
        ("/a/../../b", 400, "'..'"),
        ("/a%5Cb", 400, "backslash"),
        ("/x%00y", 400, "control"),
        ("/" + "abcd/" * 130 + "x", 400, "at most 512"),
    ],
)
def test_bad_requests_answer_in_the_error_shape(client_of_alice, files, suffix, status, says):
    response = client_of_alice.get(url(files, suffix))
    assert response.status_code == status
    body = response.json()
    assert set(body) >= {"error", "message"} and says in body["message"]


def test_others_swarms_are_404_everywhere(client_of_bob, files):
    for suffix in ("", "/src/app.py", "/src/app.py?raw=1", "/src/app.py?history=1", ".zip"):
        response = client_of_bob.get(url(files, suffix))
        assert response.status_code == 404, suffix
        assert response.json()["message"] == f"Swarm {files.id} not found"


def test_staff_may_read_any_workspace(client_of_staff, files):
    assert client_of_staff.get(url(files)).status_code == 200


def test_a_read_only_key_may_read(read_only_client_of_alice, files):
    assert read_only_client_of_alice.get(url(files, ".zip")).status_code == 200


def test_anonymous_requests_need_credentials(anon_client, files):
    assert anon_client.get(url(files)).status_code == 401


def test_the_zip_holds_the_latest_versions_in_a_folder(client_of_alice, files):
    response = client_of_alice.get(url(files, ".zip"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    folder = f"{files.id}-workspace"
    assert response["Content-Disposition"] == f'attachment; filename="{folder}.zip"'
    with zipfile.ZipFile(io.BytesIO(response.content)) as zipped:
        assert sorted(zipped.namelist()) == [
            f"{folder}/README.md",
            f"{folder}/docs/deep/history",
            f"{folder}/src/app.py",
        ]
        assert zipped.read(f"{folder}/src/app.py") == b"print('v2')\n"
        assert zipped.testzip() is None


def test_an_empty_workspace_is_an_empty_zip(client_of_alice, swarm_of_alice):
    response = client_of_alice.get(url(swarm_of_alice, ".zip"))
    with zipfile.ZipFile(io.BytesIO(response.content)) as zipped:
        assert zipped.namelist() == []


def test_a_zip_past_its_bound_is_a_413(client_of_alice, files, monkeypatch):
    monkeypatch.setattr(archive, "ZIP_MAX_CONTENT_BYTES", 10)
    response = client_of_alice.get(url(files, ".zip"))
    assert response.status_code == 413
    assert "one by one" in response.json()["message"]


def test_the_schema_documents_the_workspace_endpoints(client_of_alice):
    paths = client_of_alice.get("/api/schema?format=json").json()["paths"]
    assert {
        "/api/swarm/{swarm_id}/workspace",
        "/api/swarm/{swarm_id}/workspace/{path}",
        "/api/swarm/{swarm_id}/workspace.zip",
    } <= set(paths)


def test_operators_see_files_read_only_in_the_admin(client, django_user_model, files):
    client.force_login(django_user_model.objects.create_superuser("root", "", "pw"))
    listing = client.get("/admin/workspaces/workspacefile/?q=src")
    assert listing.status_code == 200 and "src/app.py" in listing.content.decode()
    file = files.workspace_files.get(path="src/app.py", version=1)
    page = client.get(admin_url(file))
    assert page.status_code == 200 and "print(&#x27;v1&#x27;)" in page.content.decode()
    assert client.get("/admin/workspaces/workspacefile/add/").status_code == 403
    assert client.post(admin_url(file), {"path": "x"}).status_code == 403
    assert client.get(admin_url(file, "delete")).status_code == 403
