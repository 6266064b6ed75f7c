"""An independent oracle for what a Bitnami ClickHouse pod ends up configured with.

Why it exists: the post-renderer must place XML where the pod really reads it and in an order
that ClickHouse merges the way we intend. Tests must not check ``postrender`` against itself, so
this module re-derives the rules from the upstream sources (it imports nothing from
``postrender``):

* Bitnami ``libclickhouse.sh`` ``clickhouse_copy_mounted_configuration`` (file layout);
* ClickHouse ``src/Common/Config/ConfigProcessor.cpp``: ``getConfigMergeFiles`` (order),
  ``merge``/``mergeRecursive``/``mergeAttributes``/``deleteAttributesRecursive`` (merge),
  ``doIncludesRecursive`` (``from_env``); ``ConfigProcessor.h`` ``SUBSTITUTION_ATTRS``.

Behaviour modelled: ClickHouse 26.x (26.5 checked with chDB, see ``chdb_harness``), whose
libc++ changed which of several same-identity siblings an override merges into (see
``libcxx_multimap``). ``find_rule="lower_bound"`` gives the pre-26.5 behaviour (first in
document order). Not modelled: YAML files, ``incl``/``from_zk``, ``include_from``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping

from lxml import etree

from . import chdom
from .chdom import Elem, Text
from .chstorage import summarize_storage
from .libcxx_multimap import FindRule, Multimap

__all__ = [
    "ConfigError", "LayoutConflict", "bitnami_layout", "merge_order", "merge",
    "substitute_env", "summarize_storage", "element_identity",
]

BITNAMI_MOUNTED_CONF_DIR = "/bitnami/clickhouse/etc"  # clickhouse-env.sh CLICKHOUSE_MOUNTED_CONF_DIR
BITNAMI_CONF_DIR = "/opt/bitnami/clickhouse/etc"  # clickhouse-env.sh CLICKHOUSE_CONF_DIR
BITNAMI_CONFIG = f"{BITNAMI_CONF_DIR}/config.xml"  # CLICKHOUSE_CONF_FILE
OVERRIDE_DIRS = ("conf.d", "config.d", "users.d")
CONFIG_EXTENSIONS = (".xml", ".conf", ".yaml", ".yml")
ROOT_NAMES = ("clickhouse", "yandex")
SUBSTITUTION_ATTRS = ("incl", "from_zk", "from_env")
IDENTITY_IGNORED = ("replace", "remove", *SUBSTITUTION_ATTRS)


class ConfigError(Exception):
    """ClickHouse would refuse to start; the message uses ClickHouse's own words."""


class LayoutConflict(ValueError):
    """Two mounted files land on one server path with different content.

    The image copies with ``find ... -exec cp``; GNU find walks each directory in ``readdir``
    order (it does not sort), which depends on the file system under ``/bitnami/clickhouse``
    (the data PVC). The last copy wins, but which copy is last is not defined, so the oracle
    refuses to guess.
    """


def bitnami_layout(mounts: Iterable[tuple[str, Mapping[str, str]]]) -> list[tuple[str, str]]:
    """Where the image's start script copies each mounted ConfigMap key, as (server path, content).

    ``clickhouse_copy_mounted_configuration`` copies files directly under
    ``/bitnami/clickhouse/etc`` (``find -maxdepth 1``) into ``/opt/bitnami/clickhouse/etc``, and
    every file at any depth under ``.../etc/{conf.d,config.d,users.d}`` flat into the same-named
    server folder. Anything else is not copied. Identical duplicates collapse (a ConfigMap
    volume itself shows each key twice: the ``..<timestamp>/`` file and its symlink).
    """
    placed: dict[str, tuple[str, str]] = {}
    for mount_path, files in mounts:
        for key, content in files.items():
            source = posixpath.normpath(posixpath.join(mount_path, key))
            target = _copy_target(source)
            if target is None:
                continue
            if target in placed and placed[target][0] != content:
                raise LayoutConflict(
                    f"{target}: {placed[target][1]} and {source} both land here; "
                    "find(1) does not sort, so which copy wins is undefined")
            placed[target] = (content, source)
    return sorted((path, content) for path, (content, _) in placed.items())


def _copy_target(source: str) -> str | None:
    rel = posixpath.relpath(source, BITNAMI_MOUNTED_CONF_DIR)
    if rel.startswith(".."):
        return None
    parts = rel.split("/")
    if len(parts) == 1:
        return f"{BITNAMI_CONF_DIR}/{parts[0]}"
    if parts[0] in OVERRIDE_DIRS:
        return f"{BITNAMI_CONF_DIR}/{parts[0]}/{parts[-1]}"
    return None


def merge_order(paths: Iterable[str], config_path: str = BITNAMI_CONFIG) -> list[str]:
    """The files ClickHouse merges into ``config_path``, in merge order (full paths).

    ``getConfigMergeFiles`` lists ``<config stem>.d/`` and ``conf.d/`` beside the config (no
    subfolders), keeps regular files whose lower-cased extension is .xml/.conf/.yaml/.yml and
    whose stem does not start with a dot, then sorts the *full path strings* (``std::sort`` on
    ``std::string``: byte order). So ``.../etc/conf.d/*`` all merge before ``.../etc/config.d/*``
    ('.' < 'i'), and users.d is not part of config.xml at all. Relative paths are taken
    relative to the config's folder.
    """
    base_dir = posixpath.dirname(config_path)
    dirs = {posixpath.join(base_dir, "conf.d"), posixpath.splitext(config_path)[0] + ".d"}
    full = [p if p.startswith("/") else posixpath.join(base_dir, p) for p in paths]
    chosen = [p for p in full if posixpath.dirname(p) in dirs and _is_config_name(posixpath.basename(p))]
    return sorted(chosen, key=lambda p: p.encode("utf-8"))


def _is_config_name(name: str) -> bool:
    """``std::filesystem`` stem/extension rules: a leading dot alone is not an extension."""
    dot = name.rfind(".")
    extension, stem = (name[dot:], name[:dot]) if dot > 0 else ("", name)
    return extension.lower() in CONFIG_EXTENSIONS and not stem.startswith(".")


def merge(base_xml: str, overrides: Iterable[tuple[str, str]], *,
          find_rule: FindRule = "descent", config_path: str = BITNAMI_CONFIG) -> etree._Element:
    """Merge override files into the base config as ``ConfigProcessor::processConfig`` does.

    ``overrides`` are (path, content); they are filtered and ordered with ``merge_order`` so
    the caller cannot merge in an order the server would not use. No substitution happens
    here (``substitute_env`` runs after, as on the server).
    """
    by_path = {(p if p.startswith("/") else posixpath.join(posixpath.dirname(config_path), p)): c
               for p, c in overrides}
    try:
        root = chdom.parse(base_xml)
    except etree.XMLSyntaxError as err:
        raise ConfigError(f"SAXParseException: {err} in '{config_path}'") from err
    for path in merge_order(by_path, config_path):
        _merge_document(root, _parse_override(path, by_path[path]), path, find_rule)
    return chdom.to_lxml(root)


def _parse_override(path: str, content: str) -> Elem:
    """``parseConfig``: .yaml/.yml and non-XML-looking .conf files are YAML (not supported)."""
    lower = path.lower()
    looks_xml = content.lstrip(chdom.WHITESPACE).startswith("<")
    if lower.endswith((".yaml", ".yml")) or (lower.endswith(".conf") and not looks_xml):
        raise NotImplementedError(f"YAML config files are not modelled: {path}")
    try:
        return chdom.parse(content)
    except etree.XMLSyntaxError as err:
        raise ConfigError(f"Failed to merge config with '{path}': SAXParseException: {err}") from err


def _merge_document(config: Elem, with_root: Elem, path: str, rule: FindRule) -> None:
    """``ConfigProcessor::merge``: <clickhouse> and <yandex> are the same root."""
    if config.name != with_root.name and not (config.name in ROOT_NAMES and with_root.name in ROOT_NAMES):
        if config.name not in ROOT_NAMES:
            return  # "Merging bypassed": the file belongs to another kind of config
        raise ConfigError(
            f"Failed to merge config with '{path}': Root element doesn't have the corresponding "
            f"root element as the config file. It must be <{config.name}>")
    _merge_recursive(config, with_root, rule)


def element_identity(element: Elem) -> tuple[bytes, ...]:
    """``getElementIdentifier``: the name, then sorted (name, value) pairs of the attributes
    except replace/remove/incl/from_zk/from_env. ``optional`` and ``merge`` do count."""
    pairs = sorted((k.encode("utf-8"), v.encode("utf-8"))
                   for k, v in element.attrs.items() if k not in IDENTITY_IGNORED)
    return (element.name.encode("utf-8"), *(part for pair in pairs for part in pair))


def _merge_recursive(config: Elem, with_root: Elem, rule: FindRule) -> None:
    """``mergeRecursive``: pair each override child with ONE base child of equal identity."""
    # "Remove text from the original config node."
    config.children = [c for c in config.children
                       if not (isinstance(c, Text) and c.value.strip(chdom.WHITESPACE))]
    by_id: Multimap[Elem] = Multimap(rule)
    for child in config.children:
        if isinstance(child, Elem):
            by_id.insert(element_identity(child), child)
    for node in list(with_root.children):
        if not isinstance(node, Elem):
            config.children.append(node)  # the override's text (whitespace too) and comments
        elif not _merge_element(config, node, by_id, rule) and "remove" not in node.attrs:
            # "Since we didn't find a pair to this node in default config, we will paste it as is."
            _delete_attributes_recursive(node)
            config.children.append(node)


def _merge_element(config: Elem, node: Elem, by_id: Multimap[Elem], rule: FindRule) -> bool:
    """Apply one override element to its matched base sibling; False when nothing matched."""
    remove, replace = "remove" in node.attrs, "replace" in node.attrs
    if remove and replace:
        raise ConfigError(f"both remove and replace attributes set for element <{node.name}>")
    hit = by_id.find(element_identity(node))
    if hit is None:
        return False
    target: Elem = hit.value
    by_id.erase(hit)
    index = next(i for i, c in enumerate(config.children) if c is target)
    if remove:
        del config.children[index]
    elif replace:
        config.children[index] = node  # the 'replace' attribute stays, as in 26.x
    else:
        # "Remove substitution attributes from the merge target node if source node already has a value"
        if node.has_child_nodes():
            for name in SUBSTITUTION_ATTRS:
                target.attrs.pop(name, None)
        target.attrs.update(node.attrs)  # mergeAttributes
        _merge_recursive(target, node, rule)
    return True


def _delete_attributes_recursive(root: Elem) -> None:
    """Children (not ``root`` itself) lose ``replace``; children marked ``remove`` go."""
    kept: list[chdom.Node] = []
    for child in root.children:
        if isinstance(child, Elem):
            child.attrs.pop("replace", None)
            if "remove" in child.attrs:
                continue
            _delete_attributes_recursive(child)
        kept.append(child)
    root.children = kept


def substitute_env(root: etree._Element, env: Mapping[str, str], *,
                   throw_on_bad_incl: bool = False) -> etree._Element:
    """``from_env`` substitution after merging (``doIncludesRecursive``); returns a new tree.

    Unset variable: the element stays as it is (so usually empty) -- unless it carries an
    ``optional`` attribute (any value, even "false"), then it is removed; the server's
    ``throw_on_bad_incl`` is false. An element that already has child nodes (whitespace and
    comments count) and no ``replace`` attribute cannot take ``from_env``. The value is
    parsed as XML inside ``<from_env>...</from_env>``, so a bare ``&`` or ``<`` is an error.
    """
    dom = chdom.from_lxml(root)
    _substitute(dom, None, env, throw_on_bad_incl)
    return chdom.to_lxml(dom)


def _substitute(node: Elem, parent: Elem | None, env: Mapping[str, str], strict: bool) -> None:
    present = [a for a in SUBSTITUTION_ATTRS if a in node.attrs]
    if len(present) > 1:  # "only one substitution is allowed"
        raise ConfigError(f"More than one substitution attribute is set for element <{node.name}>")
    if node.name == "include" or present[:1] in (["incl"], ["from_zk"]):
        raise NotImplementedError(f"<{node.name} {' '.join(present)}> is not modelled")
    if present and not _from_env(node, parent, env, strict):
        return  # the node was removed
    if present and "from_env" not in node.attrs:
        _substitute(node, parent, env, strict)  # "included_something": process the node again
        return
    for child in list(node.children):
        if isinstance(child, Elem):
            _substitute(child, node, env, strict)


def _from_env(node: Elem, parent: Elem | None, env: Mapping[str, str], strict: bool) -> bool:
    """Substitute one element; False when the element was removed (unset and optional)."""
    replace = "replace" in node.attrs
    if node.has_child_nodes() and not replace:
        raise ConfigError(f"Element <{node.name}> has value and does not have 'replace' attribute, "
                          "can't process from_env substitution")
    name = node.attrs["from_env"]
    if name not in env:
        if "optional" in node.attrs and parent is not None:
            parent.children = [c for c in parent.children if c is not node]
            return False
        if strict:
            raise ConfigError(f"Env variable is not set: {name}")
        return True  # ClickHouse logs a warning and leaves the element alone
    try:
        value = chdom.parse(f"<from_env>{env[name]}</from_env>")
    except etree.XMLSyntaxError as err:
        raise ConfigError(f"Failed to preprocess config: SAXParseException: {err} "
                          f"(value of env {name})") from err
    for attr in SUBSTITUTION_ATTRS:
        node.attrs.pop(attr, None)
    if replace:
        node.children = []
        node.attrs.pop("replace")
    node.children.extend(value.children)
    node.attrs.update(value.attrs)
    return True
