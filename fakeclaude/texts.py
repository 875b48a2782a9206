"""The fake's prose: a task's Markdown answer (with a code block the artifacts extractor finds) and
the hostile markup some directives append (for the UI's sanitising tests)."""

from __future__ import annotations

import re

from fakeclaude.directives import strip_directives

XSS_MARKDOWN = """
### Preview

Some **bold** text, a list and untrusted markup from the model:

- first item
- second item

<script>window.__xss=1</script>

<img src=x onerror="window.__xss=1">

Read the [click me](javascript:window.__xss=1) guide.

![tracker](https://evil.example/pixel.png)

<a href="#" onclick="window.__xss=1">link</a>

That is all for the preview.
"""


def markdown_reply(task: str, *, xss: bool = False) -> str:
    summary = _summary(task)
    title = " ".join(summary.split()[:8]).rstrip(".,:;") or "The task"
    text = (
        f"## Solution: {title}\n\n"
        f"Here is a small, working solution for the task: {summary}. "
        "It keeps the logic in one function so it is easy to test and extend. "
        "Run the file directly to see the result.\n\n"
        "```python:src/solution.py\n"
        f'"""Solution for: {summary}."""\n\n\n'
        "def solve() -> str:\n"
        f"    return {summary!r}\n\n\n"
        'if __name__ == "__main__":\n'
        "    print(solve())\n"
        "```\n"
    )
    return text + XSS_MARKDOWN if xss else text


def _summary(task: str) -> str:
    # Only word characters and mild punctuation, so the summary cannot break the Markdown or the code.
    cleaned = re.sub(r"[^\w\s.,:;!?'()/+-]", " ", strip_directives(task))
    words = cleaned.split()
    summary = " ".join(words[:16]).rstrip(".,:;!?")
    return (summary + "...") if len(words) > 16 else (summary or "the requested task")
