"""A DOM shaped like Poco's, for replaying ClickHouse's config merge.

Why not merge on lxml directly: ClickHouse (Poco DOM) sees text as sibling *nodes* -- it deletes
the base element's non-whitespace text nodes and appends every text node of the override, and it
asks "does this element have child nodes" (whitespace counts). lxml folds text into ``.text`` and
``.tail``, which makes those rules awkward and easy to get subtly wrong. So we parse with lxml
(``resolve_entities=False, no_network=True``), convert to these plain nodes, merge, and convert
back.

Known gaps, on purpose: CDATA becomes plain text (Poco keeps a CDATA node, which the merge's
"remove text" pass does not touch); namespaced names keep lxml's ``{uri}local`` spelling.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Union

from lxml import etree

WHITESPACE = " \t\n\r"  # ConfigProcessor.cpp allWhitespace()


@dataclass(eq=False)
class Text:
    """A text node (Poco ``Node::TEXT_NODE``)."""

    value: str


@dataclass(eq=False)
class Other:
    """A comment or processing instruction: kept and appended, never matched."""

    node: etree._Element


@dataclass(eq=False)
class Elem:
    """An element node; ``attrs`` keeps insertion order like Poco's attribute map."""

    name: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)

    def has_child_nodes(self) -> bool:
        """Poco ``hasChildNodes()``: whitespace text and comments count."""
        return bool(self.children)


Node = Union[Elem, Text, Other]


def parser() -> etree.XMLParser:
    """The one parser: no entity expansion, no network, comments and whitespace kept."""
    return etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)


def parse(xml: str) -> Elem:
    """Parse a document and return its root element (top-level comments are skipped, as Poco's
    ``getRootNode`` does). Raises ``etree.XMLSyntaxError``."""
    return from_lxml(etree.fromstring(xml.encode("utf-8"), parser()))


def from_lxml(el: etree._Element) -> Elem:
    """Convert an lxml element tree into Poco-shaped nodes."""
    out = Elem(name=str(el.tag), attrs={str(k): str(v) for k, v in el.attrib.items()})
    if el.text:
        out.children.append(Text(el.text))
    for child in el:
        if isinstance(child.tag, str):
            out.children.append(from_lxml(child))
        else:
            lone = copy.copy(child)
            lone.tail = None
            out.children.append(Other(lone))
        if child.tail:
            out.children.append(Text(child.tail))
    return out


def to_lxml(node: Elem) -> etree._Element:
    """Convert back; adjacent text nodes are joined into lxml's ``.text``/``.tail``."""
    el = etree.Element(node.name, dict(node.attrs))
    last: etree._Element | None = None
    for child in node.children:
        if isinstance(child, Text):
            if last is None:
                el.text = (el.text or "") + child.value
            else:
                last.tail = (last.tail or "") + child.value
            continue
        last = to_lxml(child) if isinstance(child, Elem) else copy.copy(child.node)
        el.append(last)
    return el
