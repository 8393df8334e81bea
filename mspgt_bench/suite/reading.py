"""Read one suite file as untrusted input: bounded in size, nesting and alias expansion, data only.

The file is capped at :data:`MAX_FILE_BYTES` before parsing and must be UTF-8 text. It is parsed
by a ``yaml.SafeLoader`` subclass (plain data, never Python objects) that also refuses what
``yaml.safe_load`` lets through:

* a key given twice in one mapping (YAML keeps the last value silently, so numbers change);
* a key that is not text (``1:``, ``on:``, ``[a]:``), which no suite section can name;
* nesting deeper than :data:`MAX_DEPTH` (a 20 000-deep list would exhaust Python's stack);
* more than :data:`MAX_NODES` values once aliases are expanded (an alias bomb: a few lines
  that expand to billions of values), and an alias inside the node it names (a cycle);
* integers beyond 64 bits, and values that an explicit tag makes unreadable (``!!int abc``).

Every refusal is a :class:`ReadError` naming the line and, where known, the key path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mspgt_bench.suite.problems import one_line, short_repr

MAX_FILE_BYTES = 1 << 20
"""1 MiB. The shipped suites are under 10 KiB; stimuli and data belong in their own files."""

MAX_DEPTH = 32
"""Nesting levels (a mapping's keys and values sit one level below it); the shipped suites use 6."""

MAX_NODES = 20_000
"""Keys and values once aliases are expanded; the shipped suites hold fewer than 1 000."""

MAX_INT = 2**63 - 1
"""Largest integer magnitude: numpy and torch take 64-bit integers, and a longer one cannot be printed."""

_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class ReadError(Exception):
    """Why a file cannot be read as a suite: the key path (as far as known) and what is wrong."""

    def __init__(self, message: str, path: tuple[Any, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


def read_document(path: Path) -> Any:
    """The YAML document in ``path``, read within the limits above; ``ReadError`` says why not."""
    return parse(read_text(path))


def read_text(path: Path) -> str:
    """The file's text: at most :data:`MAX_FILE_BYTES`, UTF-8, no NUL bytes."""
    raw = _read_bytes(path)
    if b"\x00" in raw:
        raise ReadError("is a binary file (it contains NUL bytes), not a YAML suite; check the path")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = raw[exc.start]
        raise ReadError(f"is not UTF-8 text (byte 0x{byte:02x} at offset {exc.start}); save it as UTF-8") from None


def _read_bytes(path: Path) -> bytes:
    try:
        if path.is_dir():
            raise ReadError("is a folder, not a suite file; give the path of a .yaml file")
        if not path.exists():
            raise ReadError("file not found; check the path")
        if not path.is_file():  # opening a pipe would wait for a writer
            raise ReadError("is not a regular file (a device, pipe or socket); give the path of a .yaml file")
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except (OSError, ValueError) as exc:  # permissions, a NUL in the name, a file that vanished
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ReadError(f"cannot be read ({reason}); check the path and its permissions") from None
    if len(raw) > MAX_FILE_BYTES:
        limit = f"{MAX_FILE_BYTES // 1024} KiB"
        raise ReadError(f"is larger than {limit}, the limit for a suite file; a suite is a short configuration")
    return raw


def parse(text: str) -> Any:
    """One YAML document as plain data (``None`` when empty), or ``ReadError``."""
    try:
        return _load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = "; ".join(str(part) for part in (exc.context, exc.problem) if part) or str(exc)
        raise ReadError(f"{where}not valid YAML ({one_line(problem)})") from None
    except yaml.reader.ReaderError as exc:
        character = one_line(chr(exc.character)) if isinstance(exc.character, int) else short_repr(exc.character)
        line = text.count("\n", 0, exc.position) + 1
        raise ReadError(f"line {line}: not valid YAML (character {character} is not allowed)") from None


def _load(text: str) -> Any:
    loader = _GuardedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _where(node: Node) -> str:
    return f"line {_line(node)}, column {node.start_mark.column + 1}"


class _GuardedLoader(yaml.SafeLoader):
    """``SafeLoader`` that counts what it composes and checks every mapping's keys (see the module docstring)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._trail: list[Any] = []  # for each node being composed: its index or key node (None: root or a key)
        self._composed = 0

    def _path(self) -> tuple[Any, ...]:
        return tuple(p.value if isinstance(p, Node) else p for p in self._trail if p is not None)

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        self._trail.append(index)
        try:
            self._composed += 1
            if len(self._trail) > MAX_DEPTH or self._composed > MAX_NODES:
                raise self._limit_error()
            return super().compose_node(parent, index)
        finally:
            self._trail.pop()

    def _limit_error(self) -> ReadError:
        line = self.peek_event().start_mark.line + 1
        if len(self._trail) > MAX_DEPTH:
            return ReadError(f"line {line}: nested more than {MAX_DEPTH} levels deep; flatten it", self._path())
        return ReadError(f"line {line}: more than {MAX_NODES} keys and values; a suite is a short configuration")

    def compose_mapping_node(self, anchor: str | None) -> MappingNode:
        node = super().compose_mapping_node(anchor)
        seen: dict[str, str] = {}
        for key, _value in node.value:
            if key.tag == _MERGE_TAG:
                continue
            name = self._key_text(key)
            if name in seen:
                message = (
                    f"{_where(key)}: duplicate key (first at {seen[name]}); YAML would keep only the last value "
                    "silently, so remove one of them"
                )
                raise ReadError(message, (*self._path(), name))
            seen[name] = _where(key)
        return node

    def _key_text(self, key: Node) -> str:
        if isinstance(key, ScalarNode) and key.tag == _STR_TAG:
            return key.value
        if isinstance(key, ScalarNode):
            kind = key.tag.rsplit(":", 1)[-1]
            message = f"line {_line(key)}: key {key.value!r} is read as {kind}, not text; quote it: '{key.value}'"
        else:
            message = (
                f"line {_line(key)}: a key must be text, not a {'list' if isinstance(key, SequenceNode) else 'mapping'}"
            )
        raise ReadError(message, self._path())

    def compose_document(self) -> Node:
        node = super().compose_document()
        _measure(node, 1, {}, set())
        return node

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, KeyError, AttributeError, TypeError, OverflowError):  # !!int abc, 2020-13-45
            kind = node.tag.rsplit(":", 1)[-1]
            message = f"line {_line(node)}: {short_repr(node.value)} cannot be read as {kind}; quote it if it is text"
            raise ReadError(message) from None

    def construct_yaml_int(self, node: ScalarNode) -> int:
        value = super().construct_yaml_int(node)
        if abs(value) > MAX_INT:
            raise ReadError(f"line {_line(node)}: integer larger than 2**63 - 1; use a smaller number")
        return value


_GuardedLoader.add_constructor("tag:yaml.org,2002:int", _GuardedLoader.construct_yaml_int)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _measure(node: Node, depth: int, memo: dict[int, tuple[int, int]], open_nodes: set[int]) -> tuple[int, int]:
    """(values, height) of ``node`` with aliases expanded; ``ReadError`` beyond the limits or on a cycle.

    Aliases make the node graph share subtrees, so each node is measured once (``memo``) and the
    recursion never goes deeper than :data:`MAX_DEPTH`.
    """
    key = id(node)
    if key in open_nodes:
        raise ReadError(f"line {_line(node)}: an alias refers to a node that contains it (a cycle); remove it")
    if key not in memo:
        if depth > MAX_DEPTH:
            raise ReadError(f"line {_line(node)}: nested more than {MAX_DEPTH} levels deep once aliases are expanded")
        open_nodes.add(key)
        parts = [_measure(child, depth + 1, memo, open_nodes) for child in _children(node)]
        open_nodes.discard(key)
        memo[key] = (1 + sum(values for values, _ in parts), 1 + max((height for _, height in parts), default=0))
    values, height = memo[key]
    if depth + height - 1 > MAX_DEPTH:
        raise ReadError(f"line {_line(node)}: nested more than {MAX_DEPTH} levels deep once aliases are expanded")
    if values > MAX_NODES:
        raise ReadError(
            f"line {_line(node)}: expands to more than {MAX_NODES} keys and values through aliases (an alias bomb?); "
            "write the values out or reuse fewer"
        )
    return values, height
