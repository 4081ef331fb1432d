"""What the report tests share: a two-task program, a run folder written by hand, and a
small DOM read with ``html.parser`` to check a page's structure."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

DIGITS = """
type Image = Real[8, 8, 1]
type Digit = Class[10]

data digits : -> Image, Digit
learner classifier : Image -> Digit
learner enc : Image -> Real[4]
learner dec : Real[4] -> Image

task classify:
    x, y <- digits
    classifier(x) = y

task autoencode:
    x, _ <- digits
    dec(enc(x)) = x

objective both = classify + 2 * autoencode

impl classifier = nets.mlp(width = 16, depth = 1)
impl enc = nets.mlp(width = 16, depth = 1)
impl dec = nets.mlp(width = 16, depth = 1)

train both:
    data digits = datasets.digits()
    batch 16
    steps 12
    log_every 3
    seed 1
"""
"""Two tasks (so two task curves), each with its own learners, on data that ship with the
package: nothing to fetch."""
TASKS = ("classify", "autoencode")

VOID = frozenset({"meta", "img", "br", "hr", "input", "link", "source", "wbr", "col", "area"})


@dataclass
class Node:
    """An element: its tag, attributes, children and own text."""

    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def iter(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.iter()

    def all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        """The elements below (and including) this one with ``tag`` whose attributes contain
        ``attrs`` (``class_`` for ``class``; a class matches one of the element's classes)."""
        found = []
        for node in self.iter():
            if tag is not None and node.tag != tag:
                continue
            if all(self._has(node, k.rstrip("_"), v) for k, v in attrs.items()):
                found.append(node)
        return found

    def by_id(self, ident: str) -> Node:
        (node,) = self.all(id=ident)
        return node

    def text(self) -> str:
        return "".join([*self.texts, *(c.text() for c in self.children)])

    @staticmethod
    def _has(node: Node, key: str, value: str) -> bool:
        if key == "class":
            return value in node.attrs.get("class", "").split()
        return node.attrs.get(key) == value


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].texts.append(data)


def parse(page: str) -> Node:
    """The page as a tree of :class:`Node`."""
    builder = _Builder()
    builder.feed(page)
    builder.close()
    return builder.root


def fake_run(folder: Path, metrics: list[dict] | str, *, config: dict | None = None,
             source: str | None = DIGITS) -> Path:
    """A run folder as ``taskdsl train`` leaves it, written by hand: ``config.json`` (the
    program ``source``, objective ``both``) and ``metrics.jsonl``."""
    folder.mkdir(parents=True, exist_ok=True)
    record = {"objective": "both", "file": "digits.task", "source": source,
              "settings": {"batch": 16, "steps": 12, "optimizer": "adam(lr = 0.001)"},
              "overrides": [], "seed": 1, "learners": ["classifier", "enc", "dec"],
              **(config or {})}
    (folder / "config.json").write_text(json.dumps(record), encoding="utf-8")
    text = metrics if isinstance(metrics, str) else "".join(json.dumps(m) + "\n"
                                                            for m in metrics)
    (folder / "metrics.jsonl").write_text(text, encoding="utf-8")
    return folder
