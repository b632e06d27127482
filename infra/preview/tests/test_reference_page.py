"""The k8s-ee.yaml reference page (docs/previews/k8s-ee-config-reference.md) against the
schema and the validator it documents:

- every key of the JSON schema has a section (a heading naming its path), and every
  section names a key that exists; keys reached through a shared definition a second time
  (`apps[].image.context` is `image.context`) are documented once, where first reached,
  and the second parent (`apps[].image`) has its own section;
- a key's schema default is stated in its section as "Default: `<value>`";
- every `yaml` block is a complete file that validates, and every `yaml invalid` block
  fails with exactly the problem lines of the `text` block after it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labpreview.config import ConfigError, schema, validate_text

REPO = Path(__file__).resolve().parents[3]
PAGE = REPO / "docs/previews/k8s-ee-config-reference.md"
FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^(?P<level>#{2,6}) (?P<title>.+)$", re.MULTILINE)


def _resolve(node: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    ref = node.get("$ref")
    if ref is None:
        return node, None
    name = ref.rsplit("/", 1)[-1]
    return {**schema()["definitions"][name], **{k: v for k, v in node.items() if k != "$ref"}}, name


def schema_keys(repeats: bool = False) -> dict[str, dict[str, Any]]:
    """Path -> its schema node; without `repeats`, the nested paths of a definition reached
    a second time are left out (they are documented where it was first reached)."""
    keys: dict[str, dict[str, Any]] = {}
    seen_definitions: set[str] = set()

    def walk(node: dict[str, Any], path: str) -> None:
        node, definition = _resolve(node)
        if definition is not None and node.get("properties"):
            if definition in seen_definitions and not repeats:
                return  # documented where first reached
            seen_definitions.add(definition)
        for branch in node.get("anyOf", []):
            walk(branch, path)
        for key, child in (node.get("properties") or {}).items():
            child_path = f"{path}.{key}" if path else key
            keys.setdefault(child_path, _resolve(child)[0])
            walk(child, child_path)
        items = node.get("items")
        if node.get("type") == "array" and isinstance(items, dict):
            walk(items, f"{path}[]")

    walk(schema(), "")
    return keys


def sections() -> dict[str, str]:
    """Heading path -> the text of its section (up to the next heading)."""
    text = PAGE.read_text(encoding="utf-8")
    found: dict[str, str] = {}
    matches = list(HEADING.finditer(text))
    for i, match in enumerate(matches):
        title = match["title"].strip()
        key = re.fullmatch(r"`([A-Za-z0-9_.\[\]]+)`", title)
        if key is None:
            continue
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        found[key.group(1)] = text[match.end() : end]
    return found


def _default_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def test_every_schema_key_has_a_section() -> None:
    missing = sorted(set(schema_keys()) - set(sections()))
    assert missing == []


def test_every_section_names_a_schema_key() -> None:
    unknown = sorted(set(sections()) - set(schema_keys(repeats=True)))
    assert unknown == []


@pytest.mark.parametrize("path", [p for p, node in schema_keys().items() if "default" in node])
def test_defaults_are_stated(path: str) -> None:
    default = _default_text(schema_keys()[path]["default"])
    assert f"Default: `{default}`" in sections()[path], path


def blocks() -> Iterator[tuple[str, str, str | None]]:
    """(info, body, the text block after it) of every fenced block."""
    found = list(FENCE.finditer(PAGE.read_text(encoding="utf-8")))
    for i, match in enumerate(found):
        after = found[i + 1] if i + 1 < len(found) else None
        expected = after["body"] if after is not None and after["info"] == "text" else None
        yield match["info"].strip(), match["body"], expected


def test_the_page_has_valid_and_invalid_examples() -> None:
    infos = [info for info, _, _ in blocks()]
    assert infos.count("yaml") >= 4
    assert infos.count("yaml invalid") >= 5


@pytest.mark.parametrize(
    "body", [b for info, b, _ in blocks() if info == "yaml"], ids=lambda b: b.split("\n")[0]
)
def test_each_example_validates(body: str) -> None:
    validate_text(body)


@pytest.mark.parametrize(
    ("body", "expected"),
    [(b, e) for info, b, e in blocks() if info == "yaml invalid"],
    ids=lambda v: v.split("\n")[0] if v else "",
)
def test_each_invalid_example_fails_as_shown(body: str, expected: str | None) -> None:
    assert expected is not None, "an invalid example needs a text block with its problems"
    with pytest.raises(ConfigError) as caught:
        validate_text(body)
    assert str(caught.value) == expected.rstrip("\n")


def test_the_documented_keys_are_many() -> None:
    """The walk sees the nested keys (so the two tests above can fail)."""
    keys = schema_keys()
    assert {"databases.postgresql.bootstrap.initSQL", "apps[].image", "seed.timeoutSeconds"} <= set(
        keys
    )
    assert "apps[].image.context" not in keys  # documented as image.context
