"""Artifacts of a plain-text answer: fenced code blocks that name a file, found by markdown-it's
parser (so a fence inside a list, a longer fence around a shorter one, or ``` in a paragraph is
read as Markdown reads it)."""

from __future__ import annotations

import pytest

from tasks.artifacts import extract


@pytest.mark.parametrize(
    ("info", "path", "language"),
    [
        ("python:src/app.py", "src/app.py", "python"),
        ("python src/app.py", "src/app.py", "python"),
        ('python title="src/app.py"', "src/app.py", "python"),
        ("js file=web/a.js", "web/a.js", "js"),
        ('title="notes.md"', "notes.md", ""),
        ("python ./src/../src/x.py", "src/x.py", "python"),
    ],
)
def test_a_fence_that_names_a_file_is_an_artifact(info, path, language):
    text = f"Here:\n\n```{info}\nprint('hi')\n```\n"
    assert extract(text) == [{"path": path, "language": language, "content": "print('hi')\n"}]


@pytest.mark.parametrize(
    "info", ["python", "", "python ../../etc/passwd", "python:/etc/passwd", "python:..", "text hello"]
)
def test_a_fence_without_a_safe_file_name_is_not(info):
    assert extract(f"```{info}\nx = 1\n```\n") == []


def test_several_blocks_in_order_with_tildes_and_long_fences():
    text = (
        "```python:a.py\na = 1\n```\n\ntext\n\n~~~sh:run.sh\necho hi\n~~~\n\n"
        "````md:doc.md\n```python\ninner()\n```\n````\n"
    )
    assert extract(text) == [
        {"path": "a.py", "language": "python", "content": "a = 1\n"},
        {"path": "run.sh", "language": "sh", "content": "echo hi\n"},
        {"path": "doc.md", "language": "md", "content": "```python\ninner()\n```\n"},
    ]


def test_a_fence_inside_a_list_item_loses_the_list_indent():
    text = "1. Create the file:\n\n   ```python:src/a.py\n   def f():\n       return 1\n   ```\n"
    assert extract(text) == [
        {"path": "src/a.py", "language": "python", "content": "def f():\n    return 1\n"}
    ]


def test_a_fence_inside_a_blockquote_is_found():
    assert extract("> ```python:q.py\n> x = 1\n> ```\n") == [
        {"path": "q.py", "language": "python", "content": "x = 1\n"}
    ]


def test_an_unclosed_fence_is_not_an_artifact():
    # an answer cut off at max_tokens: half a file is not a file
    assert extract("```python:cut.py\ndef f():\n    return") == []


def test_backticks_inside_a_paragraph_are_not_a_fence():
    assert extract("Use ```python:x.py``` inline.\n") == []


def test_an_indented_code_block_is_not_a_fence():
    assert extract("    ```python:x.py\n    x = 1\n    ```\n") == []


def test_an_empty_answer_has_no_artifacts():
    assert extract("") == []


def test_windows_line_endings_are_read_too():
    assert extract("```python:a.py\r\nx = 1\r\n```\r\n") == [
        {"path": "a.py", "language": "python", "content": "x = 1\n"}
    ]
