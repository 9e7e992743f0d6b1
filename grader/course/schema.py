"""Loading YAML with line numbers, and the small vocabulary used to validate it.

Errors read ``exercises/foo.yaml:12: key 'points': expected a number, got 'ten'`` so
an instructor can fix the file without reading a traceback.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import yaml


class ExerciseError(Exception):
    """A mistake in an exercise file, located by file and line."""

    def __init__(self, path: Path | str, line: int, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        super().__init__(f"{self.path}:{line}: {message}")


class Located(dict):
    """A YAML mapping that remembers the line of itself and of each key."""

    line: int = 0
    key_lines: dict[str, int]


class LocatedList(list):
    line: int = 0
    item_lines: list[int]  # the line of each item (text items cannot carry their own)


class _Loader(yaml.SafeLoader):
    pass


class _FastLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's parser, when PyYAML has it: several times faster. Errors are reported
    by parsing again with the pure-Python loader, whose messages the tests pin down."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> Located:
    mapping = Located()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    for key_node, value_node in node.value:
        # Keys are names in this schema: take them as written, so that YAML 1.1 does not
        # turn `on:` or `no:` into a boolean.
        if isinstance(key_node, yaml.ScalarNode):
            key = key_node.value
        else:
            key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str):
            raise ExerciseError(loader.name, line, f"key {key!r}: keys must be text")
        if key in mapping:
            raise ExerciseError(
                loader.name, line, f"key '{key}': appears twice in the same mapping"
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = line
    return mapping


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LocatedList:
    items = LocatedList(loader.construct_object(child, deep=True) for child in node.value)
    items.line = node.start_mark.line + 1
    items.item_lines = [child.start_mark.line + 1 for child in node.value]
    return items


for _cls in (_Loader, _FastLoader):
    _cls.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    _cls.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml(path: Path, display: str) -> Any:
    """Parse ``path``; any problem becomes an ExerciseError at the right line."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ExerciseError(display, line, f"the file is not UTF-8 text ({exc.reason})") from None
    if _FastLoader is not _Loader:
        fast = _FastLoader(text)
        fast.name = display
        try:
            return fast.get_single_data()
        except yaml.YAMLError:
            pass  # parse again below, for the precise message
        finally:
            fast.dispose()
    loader = None
    try:
        loader = _Loader(text)  # checks the characters of the text already
        loader.name = display
        return loader.get_single_data()
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        raise ExerciseError(
            display, line, f"not valid YAML: {exc.reason} (character {exc.character!r})"
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        # An unclosed quote or bracket is found at the end of the file: look at its start.
        if exc.context_mark is not None and "end of stream" in str(exc.problem):
            mark = exc.context_mark
        line = mark.line + 1 if mark else 1
        what = exc.problem or exc.context
        if exc.context and exc.context_mark is mark:
            what = f"{exc.context}: {exc.problem}"
        raise ExerciseError(display, line, f"not valid YAML: {what}") from None
    except yaml.YAMLError as exc:
        raise ExerciseError(display, 1, f"not valid YAML: {exc}") from None
    finally:
        if loader is not None:
            loader.dispose()


# ------------------------------------------------------------------ validation helpers
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
EXERCISE_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def type_name(value: Any) -> str:
    if isinstance(value, str):
        return repr(value) if len(value) < 60 else repr(value[:57] + "...")
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


class Mapping:
    """Validates one mapping of an exercise file and reads typed fields from it."""

    def __init__(self, data: Any, path: str, where: str, line: int = 1) -> None:
        if not isinstance(data, dict):
            raise ExerciseError(
                path,
                getattr(data, "line", line),
                f"{where}: expected a mapping, got {type_name(data)}",
            )
        self.data = data
        self.path = path
        self.where = where
        self.line = getattr(data, "line", line)

    def line_of(self, key: str) -> int:
        return getattr(self.data, "key_lines", {}).get(key, self.line)

    def error(self, key: str, message: str) -> ExerciseError:
        return ExerciseError(self.path, self.line_of(key), f"key '{key}': {message}")

    def only(self, allowed: set[str]) -> None:
        for key in self.data:
            if key not in allowed:
                near = ", ".join(sorted(allowed))
                raise self.error(key, f"unknown key in {self.where} (allowed: {near})")

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str, default: Any = ...) -> Any:
        if key not in self.data:
            if default is ...:
                raise ExerciseError(
                    self.path, self.line, f"key '{key}': required in {self.where} but missing"
                )
            return default
        return self.data[key]

    def text(
        self, key: str, default: Any = ..., pattern: re.Pattern[str] | None = None, what: str = ""
    ) -> str:
        value = self.raw(key, default)
        if value is default and default is not ...:
            return value
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"expected text, got {type_name(value)}")
        if pattern is not None and not pattern.match(value):
            raise self.error(key, f"expected {what}, got {type_name(value)}")
        return value

    def number(self, key: str, default: Any = ..., minimum: float = 0.0) -> float:
        value = self.raw(key, default)
        if value is default and default is not ...:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            looks_exponent = isinstance(value, str) and re.fullmatch(
                r"[+-]?\d+(\.\d*)?[eE][+-]?\d+", value.strip()
            )
            hint = " (YAML reads exponents only with a dot: write 1.0e-5)" if looks_exponent else ""
            raise self.error(key, f"expected a number, got {type_name(value)}{hint}")
        if not math.isfinite(value):
            raise self.error(key, f"expected a finite number, got {value!r}")
        if value < minimum:
            raise self.error(key, f"expected a number of at least {minimum:g}, got {value!r}")
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {type_name(value)}")
        return value

    def items(self, key: str, default: Any = ...) -> list[Any]:
        value = self.raw(key, default)
        if value is default and default is not ...:
            return value
        if not isinstance(value, list):
            raise self.error(key, f"expected a list, got {type_name(value)}")
        return value

    def choices(self, key: str, allowed: tuple[str, ...], join: str = ", ") -> list[Any]:
        """A list whose every item is one of ``allowed`` (``ignore: [dtype, scale]``)."""
        items = self.items(key)
        for item in items:
            if item not in allowed:
                raise self.error(
                    key, f"expected a list of {join.join(allowed)}, got {type_name(item)}"
                )
        return items

    def child(self, key: str, default: Any = ...) -> Mapping | None:
        value = self.raw(key, default)
        if value is default and default is not ...:
            return value
        return Mapping(value, self.path, f"'{key}'", self.line_of(key))
