"""Checks that forms tie each input to its help text and its error (labels and descriptions for screen readers):
every id an input's aria-describedby names is on the page, and an input with an error names that error."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any


class Inputs(HTMLParser):
    """Every element's id, and the form controls with their attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.controls: dict[str, dict[str, str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if "id" in found:
            self.ids.add(found["id"])
        if tag in {"input", "select", "textarea"} and found.get("type") not in {"hidden", "submit"}:
            self.controls[found.get("name", "")] = found


def controls_of(response: Any) -> Inputs:
    page = Inputs()
    page.feed(response.content.decode())
    assert page.controls, "the page has a form"
    return page


def assert_descriptions_exist(page: Inputs) -> None:
    for name, attrs in page.controls.items():
        for described_by in attrs.get("aria-describedby", "").split():
            assert described_by in page.ids, f"{name}: aria-describedby names #{described_by}, which is not on the page"


def assert_error_linked(page: Inputs, name: str) -> None:
    attrs = page.controls[name]
    assert attrs.get("aria-invalid") == "true"
    assert f"{attrs['id']}_error" in attrs.get("aria-describedby", "").split()
    assert f"{attrs['id']}_error" in page.ids
