"""A swarm's workspace: paths that cannot escape, versions, limits, idempotent tool calls, search."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connection

from events.models import Event
from tests.builders import build_swarm
from workspaces import services
from workspaces.errors import WorkspaceError, WorkspaceFileMissing
from workspaces.models import WorkspaceFile
from workspaces.paths import normalize

pytestmark = pytest.mark.django_db


@pytest.fixture
def swarm(alice):
    return build_swarm(alice, tasks=[{"name": "Write code"}])


def write(swarm, path, content, **kwargs):
    return services.file_write(swarm_id=swarm.id, path=path, content=content, **kwargs)


# --- paths -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a.py", "a.py"),
        ("./a.py", "a.py"),
        ("././src/./app.py", "src/app.py"),
        ("  src/app.py ", "src/app.py"),
        ("docs/Ünïcode.md", "docs/Ünïcode.md"),
        ("e\u0301.txt", "\u00e9.txt"),  # NFC: one path, however it is spelled
    ],
)
def test_normalize_keeps_relative_paths_in_one_canonical_form(path, expected):
    assert normalize(path) == expected


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("../x", "'..'"),
        ("a/../../b", "'..'"),
        ("a/..", "'..'"),
        ("/etc/passwd", "absolute"),
        ("a\\b", "backslash"),
        ("..\\..\\x", "backslash"),
        ("x\x00y", "control"),
        ("x\ny", "control"),
        ("evil\u202etxt.exe", "control"),  # a right-to-left override, made to mislead
        ("", "empty"),
        ("   ", "empty"),
        (".", "workspace itself"),
        ("./", "empty segment"),
        ("a//b", "empty segment"),
        ("src/", "empty segment"),
        ("x" * 600, "characters"),
        ("/".join(["d"] * 21), "levels deep"),
        ("d/" + "n" * 256, "longer than 255"),
        (None, "string"),
        (["a"], "string"),
    ],
)
def test_normalize_refuses_paths_that_could_escape_or_mislead(path, says):
    with pytest.raises(WorkspaceError) as refused:
        normalize(path)
    assert says in refused.value.message


def test_a_path_of_20_segments_and_512_characters_is_allowed():
    assert normalize("/".join(["d"] * 20)) == "/".join(["d"] * 20)
    long = "d/" * 10 + "x" * 255 + "/" + "y" * (512 - 20 - 256)
    assert normalize(long) == long


@pytest.mark.parametrize("path", ["../x", "/etc/passwd", "a/../../b", "a\\b", "x\x00y", "", ".", "x" * 600])
def test_every_service_refuses_a_bad_path_before_touching_the_workspace(swarm, path):
    calls = [
        lambda: write(swarm, path, "x"),
        lambda: services.file_edit(swarm_id=swarm.id, path=path, old="a", new="b"),
        lambda: services.file_read(swarm_id=swarm.id, path=path),
        lambda: services.file_history(swarm_id=swarm.id, path=path),
    ]
    for call in calls:
        with pytest.raises(WorkspaceError):
            call()
    assert not WorkspaceFile.objects.exists()


# --- writing -----------------------------------------------------------------------------------


def test_each_write_is_a_new_version_with_size_hash_and_author(swarm):
    task = swarm.tasks.get()
    first = write(swarm, "./src/app.py", "print('hi')\n", task_id=task.id)
    second = write(swarm, "src/app.py", "print('héllo')\n", task_id=task.id)
    assert (first.path, first.version, second.version) == ("src/app.py", 1, 2)
    assert second.size == len("print('héllo')\n".encode())
    assert services.file_read(swarm_id=swarm.id, path="src/app.py").content == "print('héllo')\n"
    assert services.file_read(swarm_id=swarm.id, path="src/app.py", version=1).content == "print('hi')\n"
    assert [f.version for f in services.file_history(swarm_id=swarm.id, path="src/app.py")] == [1, 2]
    assert second.task_id == task.id


def test_the_sha256_is_of_the_utf8_bytes(swarm):
    import hashlib

    file = write(swarm, "a.txt", "é")
    assert (file.size, file.sha256) == (2, hashlib.sha256("é".encode()).hexdigest())


def test_writing_the_same_content_again_adds_no_version_and_no_event(swarm):
    first = write(swarm, "a.txt", "same")
    events = Event.objects.filter(swarm=swarm, type="workspace.file_written").count()
    again = write(swarm, "a.txt", "same")
    assert again.pk == first.pk and again.version == 1
    assert Event.objects.filter(swarm=swarm, type="workspace.file_written").count() == events


def test_a_write_publishes_file_written_on_the_stream(swarm):
    task = swarm.tasks.get()
    write(swarm, "notes/plan.md", "# Plan\n", task_id=task.id)
    event = Event.objects.get(swarm=swarm, type="workspace.file_written")
    assert event.data == {"path": "notes/plan.md", "size": 7, "version": 1, "taskId": task.id}


def test_a_file_over_the_size_limit_is_refused(swarm, settings):
    settings.WORKSPACE_MAX_FILE_BYTES = 10
    write(swarm, "ok.txt", "0123456789")
    with pytest.raises(WorkspaceError, match="11 bytes; a workspace file may hold at most 10 bytes"):
        write(swarm, "big.txt", "0123456789a")
    with pytest.raises(WorkspaceError, match="at most 10 bytes"):
        write(swarm, "multibyte.txt", "ééééé" + "é")  # 6 characters, 12 bytes
    assert not WorkspaceFile.objects.filter(path__in=["big.txt", "multibyte.txt"]).exists()


def test_an_edit_that_grows_a_file_past_the_limit_is_refused(swarm, settings):
    settings.WORKSPACE_MAX_FILE_BYTES = 10
    write(swarm, "a.txt", "abc")
    with pytest.raises(WorkspaceError, match="at most 10 bytes"):
        services.file_edit(swarm_id=swarm.id, path="a.txt", old="b", new="b" * 20)


def test_the_file_count_limit_refuses_new_paths_but_not_new_versions(swarm, settings):
    settings.WORKSPACE_MAX_FILES = 2
    write(swarm, "a.txt", "1")
    write(swarm, "b.txt", "1")
    with pytest.raises(WorkspaceError, match="already holds 2 files, its maximum"):
        write(swarm, "c.txt", "1")
    assert write(swarm, "a.txt", "2").version == 2


def test_the_file_count_limit_is_per_swarm(swarm, alice, settings):
    settings.WORKSPACE_MAX_FILES = 1
    other = build_swarm(alice)
    write(swarm, "a.txt", "1")
    assert write(other, "a.txt", "1").version == 1


@pytest.mark.parametrize(
    ("content", "says"),
    [(None, "must be a string"), (42, "must be a string"), ("a\x00b", "NUL"), ("\ud800", "surrogate")],
)
def test_content_that_is_not_text_is_refused(swarm, content, says):
    with pytest.raises(WorkspaceError, match=says):
        write(swarm, "a.txt", content)


def test_a_name_is_a_file_or_a_folder_never_both(swarm):
    write(swarm, "src/app.py", "x")
    write(swarm, "notes", "x")
    with pytest.raises(WorkspaceError, match="src is a folder \\(it holds src/app.py\\)"):
        write(swarm, "src", "x")
    with pytest.raises(WorkspaceError, match="notes is a file, so it cannot hold notes/a.md"):
        write(swarm, "notes/a.md", "x")
    assert write(swarm, "src2", "x").version == 1  # a prefix that is not a folder is another name


def test_an_empty_file_may_be_written(swarm):
    assert write(swarm, "empty.txt", "").size == 0


# --- idempotency -------------------------------------------------------------------------------


def test_a_write_replayed_with_its_tool_use_id_returns_the_stored_version(swarm):
    first = write(swarm, "a.txt", "one", tool_use_id="toolu_1")
    write(swarm, "a.txt", "two", tool_use_id="toolu_2")
    replay = write(swarm, "a.txt", "one", tool_use_id="toolu_1")
    assert replay.pk == first.pk
    assert WorkspaceFile.objects.filter(swarm=swarm).count() == 2
    assert Event.objects.filter(swarm=swarm, type="workspace.file_written").count() == 2


def test_an_edit_replayed_with_its_tool_use_id_does_not_apply_twice(swarm):
    write(swarm, "a.txt", "x = 1\n")
    edited = services.file_edit(swarm_id=swarm.id, path="a.txt", old="1", new="11", tool_use_id="toolu_e")
    # run again: the text to replace occurs twice now ("11"), yet the replay is the stored version
    replay = services.file_edit(swarm_id=swarm.id, path="a.txt", old="1", new="11", tool_use_id="toolu_e")
    assert replay.pk == edited.pk and replay.content == "x = 11\n"
    assert WorkspaceFile.objects.filter(swarm=swarm).count() == 2


def test_tool_use_ids_are_keys_per_swarm(swarm, alice):
    other = build_swarm(alice)
    write(swarm, "a.txt", "one", tool_use_id="toolu_1")
    assert write(other, "a.txt", "else", tool_use_id="toolu_1").swarm_id == other.id


def test_call_and_task_are_recorded(swarm):
    from tasks.models import ClaudeCall

    task = swarm.tasks.get()
    call = ClaudeCall.objects.create(swarm=swarm, task=task, role="agent", model="m", outcome="ok")
    file = write(swarm, "a.txt", "x", task_id=task.id, call_id=str(call.id), tool_use_id="toolu_9")
    assert (file.task_id, file.call_id, file.tool_use_id) == (task.id, call.id, "toolu_9")


# --- editing -----------------------------------------------------------------------------------


def test_an_edit_replaces_the_one_occurrence(swarm):
    write(swarm, "a.py", "def f():\n    return 1\n")
    edited = services.file_edit(swarm_id=swarm.id, path="a.py", old="return 1", new="return 2")
    assert (edited.version, edited.content) == (2, "def f():\n    return 2\n")


def test_an_edit_whose_text_is_missing_says_so(swarm):
    write(swarm, "a.py", "x = 1\n")
    with pytest.raises(WorkspaceError, match="old was not found in a.py \\(version 1\\)"):
        services.file_edit(swarm_id=swarm.id, path="a.py", old="y = 1", new="y = 2")


def test_an_edit_whose_text_occurs_twice_says_how_often(swarm):
    write(swarm, "a.py", "x = 1\nx = 1\n")
    with pytest.raises(WorkspaceError, match="old occurs 2 times in a.py"):
        services.file_edit(swarm_id=swarm.id, path="a.py", old="x = 1", new="x = 2")


def test_overlapping_occurrences_count_as_more_than_one(swarm):
    write(swarm, "a.txt", "aaa")
    with pytest.raises(WorkspaceError, match="occurs 2 times"):
        services.file_edit(swarm_id=swarm.id, path="a.txt", old="aa", new="b")


@pytest.mark.parametrize(
    ("old", "new", "says"), [("", "x", "old is empty"), ("a", "a", "the same"), (None, "x", "strings")]
)
def test_an_edit_with_nothing_to_do_is_refused(swarm, old, new, says):
    write(swarm, "a.txt", "abc")
    with pytest.raises(WorkspaceError, match=says):
        services.file_edit(swarm_id=swarm.id, path="a.txt", old=old, new=new)


def test_editing_a_missing_file_points_to_write_file(swarm):
    with pytest.raises(WorkspaceFileMissing, match="no file a.py .*write_file"):
        services.file_edit(swarm_id=swarm.id, path="a.py", old="a", new="b")


# --- reading -----------------------------------------------------------------------------------


def test_reading_a_missing_file_suggests_close_paths(swarm):
    write(swarm, "src/app.py", "x")
    with pytest.raises(
        WorkspaceFileMissing, match="There is no file src/ap.py in the workspace; did you mean src/app.py"
    ):
        services.file_read(swarm_id=swarm.id, path="src/ap.py")


def test_reading_in_an_empty_workspace_says_it_is_empty(swarm):
    with pytest.raises(WorkspaceFileMissing, match="the workspace is empty"):
        services.file_read(swarm_id=swarm.id, path="a.py")


def test_reading_a_missing_version_names_the_versions_there_are(swarm):
    write(swarm, "a.txt", "1")
    write(swarm, "a.txt", "2")
    with pytest.raises(WorkspaceFileMissing, match="a.txt has no version 3; its versions are 1 to 2"):
        services.file_read(swarm_id=swarm.id, path="a.txt", version=3)
    with pytest.raises(WorkspaceError, match="whole number"):
        services.file_read(swarm_id=swarm.id, path="a.txt", version=0)


def test_files_of_another_swarm_are_not_visible(swarm, alice):
    other = build_swarm(alice)
    write(other, "secret.txt", "x")
    with pytest.raises(WorkspaceFileMissing):
        services.file_read(swarm_id=swarm.id, path="secret.txt")
    assert services.file_list(swarm_id=swarm.id) == []
    assert services.file_search(swarm_id=swarm.id, pattern="x") == []


def test_the_list_holds_the_latest_version_of_each_path_by_path(swarm, django_assert_max_num_queries):
    write(swarm, "b.txt", "1")
    write(swarm, "a/z.txt", "1")
    write(swarm, "b.txt", "2")
    write(swarm, "a/z.txt", "2")
    write(swarm, "a/z.txt", "3")
    with django_assert_max_num_queries(1):
        listed = services.file_list(swarm_id=swarm.id)
        assert [(f.path, f.version, f.size) for f in listed] == [("a/z.txt", 3, 1), ("b.txt", 2, 1)]
    assert listed[0].get_deferred_fields() == {"content"}


def test_the_overview_names_the_first_files_and_counts_paths_not_versions(swarm):
    for path in ("c.txt", "a.txt", "b.txt"):
        write(swarm, path, "1")
    write(swarm, "a.txt", "2")
    shown, total = services.file_overview(swarm_id=swarm.id, limit=2)
    assert [(f.path, f.version) for f in shown] == [("a.txt", 2), ("b.txt", 1)]
    assert total == 3
    shown, total = services.file_overview(swarm_id=swarm.id, limit=3)
    assert [f.path for f in shown] == ["a.txt", "b.txt", "c.txt"] and total == 3


def test_a_new_path_is_checked_against_files_and_folders_in_one_query(swarm, django_assert_num_queries):
    write(swarm, "src/app.py", "1")
    with django_assert_num_queries(1):
        services._check_new_path(swarm.id, "docs/readme.md")
    with pytest.raises(WorkspaceError, match="src/app.py is a file"):
        services._check_new_path(swarm.id, "src/app.py/inner.py")
    with pytest.raises(WorkspaceError, match="src is a folder"):
        services._check_new_path(swarm.id, "src")


def test_a_fresh_answer_skips_the_idempotency_lookup(swarm):
    first = services.file_write(swarm_id=swarm.id, path="a.txt", content="1", tool_use_id="toolu_1")
    again = services.file_write(swarm_id=swarm.id, path="a.txt", content="2", tool_use_id="toolu_1")
    assert again.pk == first.pk  # a replayed call returns what it wrote
    # replay=False: the caller vouches the id is new and nothing is looked up; were it not new,
    # the unique key (swarm, tool_use_id) still refuses a second write
    with pytest.raises(IntegrityError):
        services.file_write(swarm_id=swarm.id, path="a.txt", content="2", tool_use_id="toolu_1", replay=False)
    assert [f.version for f in WorkspaceFile.objects.filter(swarm_id=swarm.id)] == [1]


def test_history_of_a_missing_file_is_an_error(swarm):
    with pytest.raises(WorkspaceFileMissing):
        services.file_history(swarm_id=swarm.id, path="nope.txt")


# --- searching ---------------------------------------------------------------------------------


def test_search_finds_substrings_in_the_latest_versions_with_line_numbers(swarm):
    write(swarm, "a.py", "import os\nTODO: old\n")
    write(swarm, "a.py", "import os\n\nTODO: first\r\nTODO: second\n")
    write(swarm, "b.md", "nothing\n")
    found = services.file_search(swarm_id=swarm.id, pattern="TODO")
    assert found == [
        {"path": "a.py", "line": 3, "text": "TODO: first"},
        {"path": "a.py", "line": 4, "text": "TODO: second"},
    ]
    assert not found.truncated


def test_search_with_a_regular_expression(swarm):
    write(swarm, "a.py", "def alpha():\ndef beta():\nclass Gamma:\n")
    found = services.file_search(swarm_id=swarm.id, pattern=r"^def \w+", regex=True)
    assert [r["line"] for r in found] == [1, 2]


def test_search_stops_at_max_results(swarm):
    write(swarm, "a.txt", "x\n" * 100)
    found = services.file_search(swarm_id=swarm.id, pattern="x", max_results=5)
    assert len(found) == 5 and found.truncated


@pytest.mark.parametrize(
    ("pattern", "regex", "says"),
    [
        ("(unclosed", True, "not a valid regular expression"),
        (r"(a)\1", True, "not a valid regular expression"),  # backreferences: RE2 has none
        ("", False, "pattern is empty"),
        ("x" * 501, False, "at most 500"),
    ],
)
def test_a_bad_pattern_is_a_workspace_error(swarm, pattern, regex, says):
    with pytest.raises(WorkspaceError, match=says):
        services.file_search(swarm_id=swarm.id, pattern=pattern, regex=regex)


@pytest.mark.parametrize("max_results", ["10", None, 2.5, True])
def test_max_results_must_be_a_whole_number(swarm, max_results):
    with pytest.raises(WorkspaceError, match="max_results"):
        services.file_search(swarm_id=swarm.id, pattern="x", max_results=max_results)


def test_a_catastrophic_pattern_runs_in_linear_time(swarm):
    # (a+)+$ backtracks exponentially in Python's re on this line; RE2 answers at once
    write(swarm, "a.txt", "a" * 5000 + "b\n")
    assert services.file_search(swarm_id=swarm.id, pattern="(a+)+$", regex=True) == []


def test_search_reads_at_most_the_scan_bound(swarm, monkeypatch):
    monkeypatch.setattr(services, "SEARCH_MAX_SCAN_BYTES", 10)
    write(swarm, "a.txt", "match 1\n")
    write(swarm, "b.txt", "match 2\n")
    found = services.file_search(swarm_id=swarm.id, pattern="match")
    assert [r["path"] for r in found] == ["a.txt"] and found.truncated


def test_long_matching_lines_are_cut(swarm):
    write(swarm, "a.txt", "x" * 1000)
    assert len(services.file_search(swarm_id=swarm.id, pattern="x")[0]["text"]) == 300


# --- concurrency -------------------------------------------------------------------------------


def _at_once(count, work):
    """Runs work(i) in `count` threads released together; returns what each returned or raised."""
    from django.db import connection

    barrier, results = threading.Barrier(count), [None] * count

    def run(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 — the test inspects it
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
def test_concurrent_writes_of_one_path_get_consecutive_versions(alice):
    swarm = build_swarm(alice)
    results = _at_once(6, lambda i: write(swarm, "shared.txt", f"writer {i}").version)
    assert sorted(results) == [1, 2, 3, 4, 5, 6]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
def test_concurrent_new_files_cannot_pass_the_file_count_limit(alice, settings):
    settings.WORKSPACE_MAX_FILES = 3
    swarm = build_swarm(alice)
    results = _at_once(6, lambda i: write(swarm, f"f{i}.txt", "x"))
    assert sum(isinstance(r, WorkspaceFile) for r in results) == 3
    assert sum(isinstance(r, WorkspaceError) for r in results) == 3
