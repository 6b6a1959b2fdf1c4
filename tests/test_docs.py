"""The documentation stands alone: its links resolve, and what the code cites exists.

- every relative link in README.md and docs/*.md names a file in the repository;
- every `docs/protocol.md §N` a comment cites is a section of that document, and every
  `docs/<name>.md, "Heading"` a heading of that file;
- nothing cites a document outside the repository.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SKIPPED_DIRS = {".git", ".venv", "node_modules", "var", "__pycache__", ".pytest_cache", ".ruff_cache"}
CITING_SUFFIXES = {".py", ".vy", ".toml", ".md", ".html", ".js", ".txt", ".cfg"}

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCED = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")
SECTION_HEADING = re.compile(r"^#{2,3} §(\d+(?:\.\d+)?) ", re.MULTILINE)
# "docs/protocol.md §2.3" and any further "§3.3" listed right after it: "(docs/protocol.md §2.3, §3.3)".
PROTOCOL_CITATION = re.compile(r"docs/protocol\.md\s+§(\d+(?:\.\d+)?)((?:,\s*§\d+(?:\.\d+)?)*)")
HEADING_CITATION = re.compile(r"docs/(\w+)\.md, \"([^\"]+)\"")
# The old citations: notes beside the repository, and "protocol" + "§N" naming no file.
OUTSIDE = re.compile(r"\.\./shared|shared/reference|stack-notes|DESIGN\.md|\bprotocol\s§", re.IGNORECASE)


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def text_files() -> Iterator[Path]:
    for path in ROOT.rglob("*"):
        if path.suffix in CITING_SUFFIXES and path.is_file() and not SKIPPED_DIRS & set(path.relative_to(ROOT).parts):
            yield path


def relative_links(markdown: str) -> list[str]:
    prose = CODE_SPAN.sub("", FENCED.sub("", markdown))
    return [t for t in LINK.findall(prose) if not re.match(r"^[a-z][a-z0-9+.-]*:|^#", t)]


def cited_sections(text: str) -> set[str]:
    found = set()
    for first, more in PROTOCOL_CITATION.findall(text):
        found.add(first)
        found.update(re.findall(r"§(\d+(?:\.\d+)?)", more))
    return found


def headings(markdown: str) -> set[str]:
    return {line.lstrip("#").strip() for line in markdown.splitlines() if line.startswith("#")}


@pytest.mark.parametrize("document", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_a_file(document: Path) -> None:
    links = relative_links(document.read_text())
    missing = [link for link in links if not (document.parent / link.split("#", 1)[0]).exists()]
    assert not missing, f"{document.relative_to(ROOT)} links to files that do not exist: {missing}"


def test_the_link_check_sees_links_and_ignores_code() -> None:
    text = 'See [a](docs/a.md), ![b](img/b.png "t"), [web](https://x.org), [here](#top).\n`[c](no.md)`\n'
    assert relative_links(text + "```\n[d](no.md)\n```\n") == ["docs/a.md", "img/b.png"]


def test_the_readme_is_a_front_page() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    assert "make demo" in readme.split("\n## ")[0] and "make test" in readme.split("\n## ")[0]


def test_every_cited_protocol_section_exists() -> None:
    sections = set(SECTION_HEADING.findall((DOCS / "protocol.md").read_text()))
    assert {"1.2", "2.4", "3.1", "4"} <= sections
    missing = {
        f"{path.relative_to(ROOT)} §{section}"
        for path in text_files()
        for section in cited_sections(path.read_text(errors="replace"))
        if section not in sections
    }
    assert not missing, f"cited sections docs/protocol.md does not have: {sorted(missing)}"


def test_citations_are_read_with_their_list() -> None:
    assert cited_sections("(docs/protocol.md §2.3, §3.3) and docs/protocol.md §4:") == {"2.3", "3.3", "4"}


def test_every_cited_heading_exists() -> None:
    missing = []
    for path in text_files():
        for name, heading in HEADING_CITATION.findall(path.read_text(errors="replace")):
            document = DOCS / f"{name}.md"
            if not document.exists() or heading not in headings(document.read_text()):
                missing.append(f"{path.relative_to(ROOT)}: docs/{name}.md, {heading!r}")
    assert not missing, missing


def test_nothing_cites_a_document_outside_the_repository() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in text_files()
        if path != Path(__file__)
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert not found, "\n".join(found)
