"""Every fenced Python example in README.md and docs/*.md runs as written: each page's blocks,
in page order, in one fresh interpreter started in an empty folder."""

import os
import pathlib
import re
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow  # starts processes

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: Seconds each page took (printed at the end of the test run).
TIMES = {}
#: A page that takes longer than this is too heavy for an example.
LIMIT_SECONDS = 120


def python_blocks(page):
    """The page's ```python blocks, in order (indented blocks inside lists included)."""
    text = page.read_text()
    blocks = re.findall(r"^( *)```python\n(.*?)^\1```", text, flags=re.S | re.M)
    return ["\n".join(line[len(indent) :] for line in body.splitlines()) for indent, body in blocks]


def test_every_page_is_collected():
    assert any(python_blocks(page) for page in PAGES)


@pytest.mark.parametrize(
    "page", [p for p in PAGES if python_blocks(p)], ids=lambda p: str(p.relative_to(ROOT))
)
def test_page_examples_run(page, tmp_path):
    code = "\n\n".join(python_blocks(page))
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"}
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=LIMIT_SECONDS * 3,
    )
    TIMES[str(page.relative_to(ROOT))] = time.perf_counter() - started
    assert result.returncode == 0, f"{page.name}'s examples failed:\n{result.stderr[-3000:]}"


def test_blocks_are_read_in_order_including_indented_ones(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "text\n```python\na = 1\n```\n\n* item\n\n  ```python\n  b = a + 1\n  ```\n"
        "```bash\nnot python\n```\n"
    )
    assert python_blocks(page) == ["a = 1", "b = a + 1"]


def test_the_readme_starts_with_use_and_the_docs_have_an_index():
    readme = (ROOT / "README.md").read_text().splitlines()
    assert len(readme) <= 150
    first_command = next(i for i, line in enumerate(readme) if line.startswith("```"))
    assert first_command < 30, "the first command must come within the first 30 lines"
    index = (ROOT / "docs" / "README.md").read_text()
    for page in sorted((ROOT / "docs").glob("*.md")):
        if page.name != "README.md":
            assert f"]({page.name})" in index, f"docs/README.md does not index {page.name}"
        if len(page.read_text().splitlines()) > 150:
            assert "**Contents:**" in page.read_text()[:3000], f"{page.name}: no contents"
