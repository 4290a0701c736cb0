"""Read an environment file defensively: whatever the bytes, one line naming the file (and line) or a mapping.

Environment files are small, hand-written and sometimes hostile (copied from a ticket, generated, tampered with).
Before any of it reaches the models in :mod:`mt_verify.config`, this reader refuses, each with one line:

- a file over :data:`MAX_BYTES` (read no further: a 40 MB file must not be parsed, nor copied into reports);
- bytes that are not UTF-8 (a UTF-16 byte order mark is named as such; otherwise the line and byte offset);
- YAML errors (file and line), a document nested deeper than :data:`MAX_DEPTH` (PyYAML's composer recurses:
  20,000 levels would otherwise be a 3,000-line traceback);
- more than :data:`MAX_ALIASES` aliases, or aliases that expand to more than :data:`MAX_NODES` nodes (an alias
  bomb: 921 bytes that a tree walk would expand to gigabytes);
- a key given twice in one mapping (YAML says keys are unique; PyYAML silently keeps the last one);
- a top level that is not a mapping.

It raises :class:`EnvFileError` (a ``ValueError``); :mod:`mt_verify.config` turns it into its ``ConfigError``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

#: An environment file is a few kilobytes; 1 MiB leaves room for long allow-lists.
MAX_BYTES = 1024 * 1024
#: Nesting depth of mappings and lists (the shipped files use 4).
MAX_DEPTH = 64
#: Aliases (``*name``) in one file.
MAX_ALIASES = 100
#: Nodes after expanding every alias (each use of an anchor counts its whole subtree again).
MAX_NODES = 100_000

_MERGE_TAG = "tag:yaml.org,2002:merge"


class EnvFileError(ValueError):
    """The file cannot be an environment file; the message is one line and starts with the file's name."""


def read_mapping(path: Path) -> dict[str, Any]:
    """The file's top-level mapping, or :class:`EnvFileError`."""
    text = decode(path, read_capped(path))
    try:
        loader = _Loader(text, path)
        try:
            node = loader.get_single_node()
            if node is None:
                raise EnvFileError(f"{path}: expected a mapping at the top level, got an empty file")
            _check_size(node, path)
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = " ".join(str(exc.problem or exc.context or "syntax error").split())
        raise EnvFileError(f"{where}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise EnvFileError(f"{path}: invalid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise EnvFileError(f"{path}: invalid YAML: nested too deeply (more than {MAX_DEPTH} levels)") from None
    if not isinstance(data, dict):
        raise EnvFileError(f"{path}: expected a mapping at the top level, got {_kind(data)}")
    return data


def read_capped(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except IsADirectoryError:
        raise EnvFileError(f"{path}: is a directory, not an environment file") from None
    except OSError as exc:
        raise EnvFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise EnvFileError(f"{path}: file is larger than {MAX_BYTES // 1024} KiB; an environment file is a few KiB")
    return data


def decode(path: Path, data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise EnvFileError(f"{path}: file is UTF-16 (byte order mark); save it as UTF-8")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # a UTF-8 byte order mark is harmless
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise EnvFileError(f"{path}:{line}: not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                           f"save the file as UTF-8") from None
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        raise EnvFileError(f"{path}:{line}: NUL byte in the file: not a text file")
    return text


def _kind(value: object) -> str:
    return {list: "a list", str: "a string", type(None): "nothing"}.get(type(value), type(value).__name__)


def _check_size(root: Node, path: Path) -> None:
    """Count nodes as if every alias were expanded (memoised over the shared nodes: linear in the file)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = list(node.value)
        elif isinstance(node, MappingNode):
            children = [n for pair in node.value for n in pair]
        if done or not children:
            total = 1 + sum(sizes.get(id(c), 0) for c in children)
            if total > MAX_NODES:
                raise EnvFileError(f"{path}: aliases expand to more than {MAX_NODES:,} values (an alias bomb?)")
            sizes[id(node)] = total
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)


class _Loader(yaml.SafeLoader):
    """SafeLoader with a depth limit, an alias limit and unique keys."""

    def __init__(self, text: str, path: Path) -> None:
        super().__init__(text)
        self._path = path
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise EnvFileError(f"{self._path}:{mark.line + 1}: more than {MAX_ALIASES} aliases")
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise EnvFileError(f"{self._path}:{mark.line + 1}: nested deeper than {MAX_DEPTH} levels")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, ScalarNode):
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # an unhashable key: the constructor reports it
            if first is not None:
                raise EnvFileError(f"{self._path}:{key_node.start_mark.line + 1}: duplicate key {key!r} "
                                   f"(first given on line {first}); keys must be unique")
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)
