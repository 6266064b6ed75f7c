"""A model of libc++'s ``std::multimap``: just enough to say which element ``find`` returns.

Why this exists: ClickHouse's ``ConfigProcessor::mergeRecursive`` keys the base element's
children by identity in a ``std::multimap`` and pairs each override child with
``config_element_by_id.find(id)``, then erases that entry. When several siblings share an
identity (``<replica>``, ``<listen_host>``), *which* one ``find`` returns decides the merge.
The standard leaves it unspecified. Until LLVM 21, libc++ returned the lower bound (the first
inserted, i.e. the first in document order); llvm/llvm-project#152370 ("Optimize
__tree::find", release note #155252 "multi{map,set}::find not returning the first element
anymore") made ``find`` stop at the first equal node met while descending from the root.
Which node that is depends on the red-black tree's shape, so we rebuild the tree exactly as
libc++ does: ``__find_leaf_high`` for multi-insert (equal keys go right),
``__tree_balance_after_insert`` and ``__tree_remove`` (successor splice). The algorithms below
follow libc++'s ``<__tree>``; the code is our own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

V = TypeVar("V")
FindRule = Literal["descent", "lower_bound"]


@dataclass(eq=False)
class _Node:
    key: Any = None
    value: Any = None
    left: _Node | None = None
    right: _Node | None = None
    parent: _Node | None = None
    black: bool = False


def _is_left(x: _Node) -> bool:
    """libc++ keeps the root as the end node's *left* child, so this is total."""
    assert x.parent is not None
    return x is x.parent.left


def _rotate_left(x: _Node) -> None:
    y = x.right
    assert y is not None and x.parent is not None
    x.right = y.left
    if x.right is not None:
        x.right.parent = x
    y.parent = x.parent
    if _is_left(x):
        x.parent.left = y
    else:
        x.parent.right = y
    y.left, x.parent = x, y


def _rotate_right(x: _Node) -> None:
    y = x.left
    assert y is not None and x.parent is not None
    x.left = y.right
    if x.left is not None:
        x.left.parent = x
    y.parent = x.parent
    if _is_left(x):
        x.parent.left = y
    else:
        x.parent.right = y
    y.right, x.parent = x, y


def _tree_next(x: _Node) -> _Node:
    if x.right is not None:
        x = x.right
        while x.left is not None:
            x = x.left
        return x
    while not _is_left(x):
        assert x.parent is not None
        x = x.parent
    assert x.parent is not None
    return x.parent


@dataclass
class Multimap(Generic[V]):
    """Insert / find / erase with libc++'s tree shape; ``rule`` picks the ``find`` algorithm."""

    rule: FindRule = "descent"
    _end: _Node = field(default_factory=_Node)

    @property
    def _root(self) -> _Node | None:
        return self._end.left

    def insert(self, key: Any, value: V) -> _Node:
        """``__emplace_multi``: descend, equal keys go right (after existing equals)."""
        parent, node = self._end, self._end.left
        go_left = True
        while node is not None:
            parent, go_left = node, key < node.key
            node = node.left if go_left else node.right
        new = _Node(key=key, value=value, parent=parent)
        if go_left:
            parent.left = new
        else:
            parent.right = new
        _balance_after_insert(self._end, new)
        return new

    def find(self, key: Any) -> _Node | None:
        """libc++ >= 21 returns the first equal node on the way down; older, the lower bound."""
        node, found = self._root, None
        while node is not None:
            if key < node.key:
                node = node.left
            elif node.key < key:
                node = node.right
            elif self.rule == "descent":
                return node
            else:
                found, node = node, node.left
        return found

    def erase(self, node: _Node) -> None:
        """``__tree_remove``."""
        _remove(self._end, node)


def _up(x: _Node) -> _Node:
    """Parent pointer that the algorithm knows is set (the end node parents the root)."""
    assert x.parent is not None
    return x.parent


def _balance_after_insert(end: _Node, x: _Node) -> None:
    """``__tree_balance_after_insert``: recolour while the uncle is red, else rotate once."""
    root = end.left
    x.black = x is root
    while x is not root and not _up(x).black:
        parent, grand = _up(x), _up(_up(x))
        parent_is_left = _is_left(parent)
        uncle = grand.right if parent_is_left else grand.left
        if uncle is not None and not uncle.black:
            parent.black, uncle.black = True, True
            x = grand
            x.black = x is root
            continue
        if _is_left(x) != parent_is_left:  # inner grandchild: rotate it outward first
            x = parent
            (_rotate_left if parent_is_left else _rotate_right)(x)
        _up(x).black = True
        _up(_up(x)).black = False
        (_rotate_right if parent_is_left else _rotate_left)(_up(_up(x)))
        return


def _remove(end: _Node, z: _Node) -> None:
    """``__tree_remove``: splice in the in-order successor, then repair colours."""
    root = end.left
    y = z if z.left is None or z.right is None else _tree_next(z)
    x = y.left if y.left is not None else y.right
    w: _Node | None = None
    if x is not None:
        x.parent = y.parent
    if _is_left(y):
        _up(y).left = x
        if y is not root:
            w = _up(y).right
        else:
            root = x
    else:
        _up(y).right = x
        w = _up(y).left
    removed_black = y.black
    if y is not z:
        _splice(y, z)
        if root is z:
            root = y
    if removed_black and root is not None:
        if x is not None:
            x.black = True
        else:
            assert w is not None
            _fix_double_black(root, w)


def _splice(y: _Node, z: _Node) -> None:
    """Put ``y`` where ``z`` is, taking over z's children and colour."""
    y.parent = z.parent
    if _is_left(z):
        _up(y).left = y
    else:
        _up(y).right = y
    y.left, y.right, y.black = z.left, z.right, z.black
    for child in (y.left, y.right):
        if child is not None:
            child.parent = y


def _fix_double_black(root: _Node, w: _Node) -> None:
    """The rebalancing loop of ``__tree_remove`` (``w`` is the sibling of the hole)."""
    while True:
        left_hole = not _is_left(w)
        near, far = ("left", "right") if left_hole else ("right", "left")
        rot_toward_hole = _rotate_left if left_hole else _rotate_right
        rot_away = _rotate_right if left_hole else _rotate_left
        if not w.black:
            w.black = True
            _up(w).black = False
            rot_toward_hole(_up(w))
            if root is getattr(w, near):
                root = w
            w = getattr(getattr(w, near), far)
        wn, wf = getattr(w, near), getattr(w, far)
        if (wn is None or wn.black) and (wf is None or wf.black):
            w.black = False
            x = _up(w)
            if x is root or not x.black:
                x.black = True
                return
            sibling = _up(x).right if _is_left(x) else _up(x).left
            assert sibling is not None
            w = sibling
            continue
        if wf is None or wf.black:
            wn.black = True
            w.black = False
            rot_away(w)
            w = _up(w)
        w.black = _up(w).black
        _up(w).black = True
        getattr(w, far).black = True
        rot_toward_hole(_up(w))
        return
