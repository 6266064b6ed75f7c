"""ClickHouse XML: parse chart files safely, read the facts the checks need, and
write the storage and profile files the tool injects. Knows nothing of YAML.

Parsing never resolves entities, loads a DTD or touches the network; a DOCTYPE
is refused outright (an entity in a ConfigMap is either a mistake or an attack,
and ClickHouse's own parser would treat it differently from ours).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lxml import etree

ROOTS = ("clickhouse", "yandex")
STORAGE_KEY = "90-weave-storage.xml"
USERS_KEY = "90-weave-users.xml"
# The elements the tool owns in the merged config, as paths below the root.
OWNED = (
    "storage_configuration/disks/s3_disk",
    "storage_configuration/disks/s3_disk_cache",
    "storage_configuration/policies/s3_main",
    "merge_tree/storage_policy",
)


class XMLProblem(Exception):
    """An XML file the tool cannot read; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def _refuse_declarations(text: str) -> None:
    """A DOCTYPE or entity in a ConfigMap is a mistake or an attack: refused before any parser sees it."""
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise XMLProblem("has a DOCTYPE or ENTITY declaration; refused (entities are never resolved)",
                         text[: text.find("<!")].count("\n") + 1)


def _check_root(tag: str, line: int | None) -> None:
    if tag not in ROOTS:
        raise XMLProblem(f"has root <{tag}>; ClickHouse needs <clickhouse> or <yandex>", line)


def read(text: str) -> Any:
    """Parse one config file for reading only (the checks), with the standard library's expat.

    The post-render path never edits XML -- it writes its own files as text -- so it
    does not pay for lxml's import; declarations are refused before expat sees them.
    """
    from xml.etree import ElementTree

    _refuse_declarations(text)
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        message = str(exc).split(":", 1)[0]
        raise XMLProblem(f"is not well-formed XML: {message}", exc.position[0]) from None
    _check_root(str(root.tag), None)
    return root


def parse(text: str) -> "etree._Element":
    """Parse one config file with lxml (``explain``): no entities, no DTD, no network."""
    from lxml import etree

    _refuse_declarations(text)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             dtd_validation=False, huge_tree=False, remove_comments=True)
    try:
        root = etree.fromstring(text.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        raise XMLProblem(f"is not well-formed XML: {exc.msg}", exc.lineno) from None
    _check_root(str(root.tag), root.sourceline)
    return root


class Facts:
    """What the checks need from one release's mounted config files."""

    def __init__(self) -> None:
        self.clusters: dict[str, list[list[str]]] = {}  # name -> shards -> hosts
        self.zookeeper_nodes = 0
        self.removed_logs: list[str] = []
        self.owned_by_file: dict[str, list[str]] = {}  # owned path -> files

    def add(self, filename: str, root: Any) -> None:
        for cluster in root.findall("remote_servers/*"):
            shards = [[(r.findtext("host") or "").strip() for r in s.findall("replica")]
                      for s in cluster.findall("shard")]
            self.clusters.setdefault(str(cluster.tag), []).extend(shards)
        self.zookeeper_nodes += len(root.findall("zookeeper/node"))
        if root.find("zookeeper") is not None and root.find("zookeeper").get("from_zk") is not None:
            self.zookeeper_nodes += 1
        self.removed_logs += [str(e.tag) for e in root if e.get("remove") is not None and
                              str(e.tag) in ("query_log", "part_log", "query_thread_log")]
        for path in OWNED:
            if root.find(path) is not None:
                self.owned_by_file.setdefault(path, []).append(filename)


def storage_xml(*, size: str, cache_path: str, metadata_path: str, region: str | None,
                credentials: str, cache_on_write: bool, default_policy: bool) -> str:
    """The injected storage file.

    ``replace`` makes each owned element exactly the tool's, whatever an earlier
    file (e.g. the W&B guide's values on chart 8.x) says; the cache disk follows
    the S3 disk in the same file, so it is declared after its backing disk.
    """
    if credentials == "environment":
        creds = "      <use_environment_credentials>true</use_environment_credentials>\n"
    else:
        creds = ('      <access_key_id from_env="S3_ACCESS_KEY_ID"/>\n'
                 '      <secret_access_key from_env="S3_SECRET_ACCESS_KEY"/>\n')
    region_xml = f"      <region>{region}</region>\n" if region else ""
    on_write = "      <cache_on_write_operations>1</cache_on_write_operations>\n" if cache_on_write else ""
    merge_tree = ("  <merge_tree>\n    <storage_policy>s3_main</storage_policy>\n  </merge_tree>\n"
                  if default_policy else "")
    return (
        "<clickhouse>\n"
        "  <!-- Written by weave-postrender: S3 storage for W&B Weave. Change its config, not this file. -->\n"
        "  <storage_configuration>\n    <disks>\n"
        '      <s3_disk replace="replace">\n'
        "        <type>s3</type>\n"
        '        <endpoint from_env="S3_ENDPOINT"/>\n'
        f"{_indent(creds + region_xml)}"
        f"        <metadata_path>{metadata_path}</metadata_path>\n"
        "      </s3_disk>\n"
        '      <s3_disk_cache replace="replace">\n'
        "        <type>cache</type>\n"
        "        <disk>s3_disk</disk>\n"
        f"        <path>{cache_path}</path>\n"
        f"        <max_size>{size}</max_size>\n"
        f"{_indent(on_write)}"
        "      </s3_disk_cache>\n"
        "    </disks>\n    <policies>\n"
        '      <s3_main replace="replace">\n'
        "        <volumes>\n          <main>\n            <disk>s3_disk_cache</disk>\n"
        "          </main>\n        </volumes>\n"
        "      </s3_main>\n"
        "    </policies>\n  </storage_configuration>\n"
        f"{merge_tree}"
        "</clickhouse>\n"
    )


def users_xml() -> str:
    """The users.d file: cache-on-write is a profile setting, not a disk one."""
    return (
        "<clickhouse>\n"
        "  <!-- Written by weave-postrender: without this profile setting the cache disk's\n"
        "       cache_on_write_operations caches nothing on INSERT. -->\n"
        "  <profiles>\n    <default>\n"
        "      <enable_filesystem_cache_on_write_operations>1</enable_filesystem_cache_on_write_operations>\n"
        "    </default>\n  </profiles>\n"
        "</clickhouse>\n"
    )


def _indent(block: str) -> str:
    return "".join("  " + line + "\n" for line in block.splitlines())
