"""The ClickHouse config oracle (tests/helpers/chmerge.py): one rule per test.

The expectations come from the upstream sources named in the helper's docstrings; the
``test_chdb_*`` tests at the end hold the oracle against real ClickHouse (chDB 26.5, which the
test extra installs; without it they fail, never skip).
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from lxml import etree

from helpers import chmerge
from helpers.chdb_harness import chdb_available, run_chdb
from helpers.chmerge import ConfigError, LayoutConflict
from helpers.chstorage import parse_size
from helpers.libcxx_multimap import Multimap, _Node

ETC = "/opt/bitnami/clickhouse/etc"
BASE = "<clickhouse><filesystem_caches_path></filesystem_caches_path></clickhouse>"


def ch(body: str) -> str:
    return f"<clickhouse>{body}</clickhouse>"


def merged(*files: tuple[str, str], base: str = BASE, **kw: object) -> etree._Element:
    return chmerge.merge(base, list(files), **kw)  # type: ignore[arg-type]


def texts(root: etree._Element, path: str) -> list[str | None]:
    return [e.text for e in root.iterfind(path)]


def replicas(hosts: list[str], cluster: str = "c1") -> str:
    body = "".join(f"<replica><host>{h}</host><port>9000</port></replica>" for h in hosts)
    return ch(f"<remote_servers><{cluster}><shard>{body}</shard></{cluster}></remote_servers>")


# --- libcxx_multimap ------------------------------------------------------------------------

def _black_height(node: _Node | None) -> int:
    if node is None:
        return 1
    left, right = _black_height(node.left), _black_height(node.right)
    assert left == right and (node.black or all(c is None or c.black for c in (node.left, node.right)))
    return left + node.black


def _in_order(node: _Node | None) -> list[tuple[int, int]]:
    return [] if node is None else [*_in_order(node.left), (node.key, node.value), *_in_order(node.right)]


def test_multimap_stays_a_sorted_red_black_tree_under_random_inserts_and_erases() -> None:
    rng, tree = random.Random(3), Multimap[int]()
    live: list[_Node] = []
    for step in range(400):
        if live and rng.random() < 0.4:
            tree.erase(live.pop(rng.randrange(len(live))))
        else:
            live.append(tree.insert(rng.randint(0, 5), step))
        assert _black_height(tree._end.left) and _in_order(tree._end.left) == sorted(_in_order(tree._end.left))


def test_multimap_find_descent_returns_the_middle_of_three_equal_keys() -> None:
    tree = Multimap[str]()
    for name in ("a", "b", "c"):
        tree.insert(1, name)
    assert (tree.find(1).value, Multimap[str]("lower_bound", tree._end).find(1).value) == ("b", "a")  # type: ignore[union-attr]


# --- bitnami_layout -------------------------------------------------------------------------

def test_layout_chart8_subfolder_mount_lands_flat_in_conf_d() -> None:
    mounts = [("/bitnami/clickhouse/etc/conf.d/default", {"00_default_overrides.xml": "X"})]
    assert chmerge.bitnami_layout(mounts) == [(f"{ETC}/conf.d/00_default_overrides.xml", "X")]


def test_layout_chart9_config_d_mount_lands_in_config_d() -> None:
    mounts = [("/bitnami/clickhouse/etc/config.d", {"01-listen.xml": "L", "02-logger.xml": "G"})]
    assert chmerge.bitnami_layout(mounts) == [(f"{ETC}/config.d/01-listen.xml", "L"), (f"{ETC}/config.d/02-logger.xml", "G")]


def test_layout_deep_subfolders_are_flattened() -> None:
    mounts = [("/bitnami/clickhouse/etc/users.d/a/b", {"x.xml": "U"})]
    assert chmerge.bitnami_layout(mounts) == [(f"{ETC}/users.d/x.xml", "U")]


def test_layout_base_level_copied_but_nested_non_override_dirs_are_not() -> None:
    mounts = [("/bitnami/clickhouse/etc", {"config.xml": "C"}), ("/bitnami/clickhouse/etc/other", {"y.xml": "Y"})]
    assert chmerge.bitnami_layout(mounts) == [(f"{ETC}/config.xml", "C")]


def test_layout_ignores_mounts_outside_the_mounted_etc() -> None:
    assert chmerge.bitnami_layout([("/opt/bitnami/clickhouse/secrets", {"admin-password": "p"})]) == []


def test_layout_identical_duplicates_collapse() -> None:
    mounts = [("/bitnami/clickhouse/etc/conf.d/a", {"s.xml": "S"}), ("/bitnami/clickhouse/etc/conf.d/b", {"s.xml": "S"})]
    assert chmerge.bitnami_layout(mounts) == [(f"{ETC}/conf.d/s.xml", "S")]


def test_layout_conflicting_duplicates_raise_because_find_order_is_undefined() -> None:
    mounts = [("/bitnami/clickhouse/etc/conf.d/a", {"s.xml": "A"}), ("/bitnami/clickhouse/etc/conf.d/b", {"s.xml": "B"})]
    with pytest.raises(LayoutConflict, match="does not sort"):
        chmerge.bitnami_layout(mounts)


# --- merge_order ----------------------------------------------------------------------------

def test_order_conf_d_merges_before_config_d() -> None:
    assert chmerge.merge_order([f"{ETC}/config.d/00.xml", f"{ETC}/conf.d/zz.xml"]) == [f"{ETC}/conf.d/zz.xml", f"{ETC}/config.d/00.xml"]


def test_order_is_byte_order_not_numeric_nor_case_folded() -> None:
    names = ["9-a.xml", "10-b.xml", "a.xml", "B.xml"]
    assert chmerge.merge_order([f"config.d/{n}" for n in names]) == [f"{ETC}/config.d/{n}" for n in ["10-b.xml", "9-a.xml", "B.xml", "a.xml"]]


def test_order_keeps_only_config_extensions_case_insensitively() -> None:
    names = ["a.XML", "b.conf", "c.yaml", "d.yml", "e.txt", "f.xml.bak", "noext"]
    assert chmerge.merge_order([f"config.d/{n}" for n in names]) == [f"{ETC}/config.d/{n}" for n in names[:4]]


def test_order_skips_dot_files() -> None:
    assert chmerge.merge_order(["config.d/.hidden.xml", "config.d/..data"]) == []


def test_order_skips_users_d_and_subfolders() -> None:
    assert chmerge.merge_order([f"{ETC}/users.d/u.xml", f"{ETC}/config.d/sub/s.xml"]) == []


# --- merge ----------------------------------------------------------------------------------

def test_merge_override_text_replaces_base_text() -> None:
    root = merged(("config.d/a.xml", ch("<logger><level>trace</level></logger>")), base=ch("<logger><level>information</level></logger>"))
    assert texts(root, "logger/level") == ["trace"]


def test_merge_later_file_wins() -> None:
    root = merged(("config.d/b.xml", ch("<x>b</x>")), ("config.d/a.xml", ch("<x>a</x>")))
    assert texts(root, "x") == ["b"]


def test_merge_remove_deletes_the_match() -> None:
    root = merged(("config.d/08-sampling.xml", "<yandex><query_log remove=\"1\"/></yandex>"), base=ch("<query_log><database>system</database></query_log>"))
    assert root.find("query_log") is None


def test_merge_remove_without_match_adds_nothing() -> None:
    assert merged(("config.d/a.xml", ch('<query_log remove="1"/>'))).find("query_log") is None


def test_merge_replace_swaps_in_place() -> None:
    root = merged(("config.d/a.xml", ch('<b replace="1"><new/></b>')), base=ch("<a/><b><old/></b><c/>"))
    assert [e.tag for e in root] == ["a", "b", "c"] and [e.tag for e in root.find("b")] == ["new"]


def test_merge_unmatched_elements_are_appended() -> None:
    root = merged(("config.d/a.xml", ch("<z>1</z>")), base=ch("<a/><b/>"))
    assert [e.tag for e in root] == ["a", "b", "z"]


def test_merge_attributes_are_part_of_identity() -> None:
    root = merged(("config.d/a.xml", ch('<d name="b">2</d>')), base=ch('<d name="a">1</d>'))
    assert texts(root, "d") == ["1", "2"]


def test_merge_optional_attribute_is_part_of_identity() -> None:
    root = merged(("config.d/a.xml", ch('<d optional="true">2</d>')), base=ch("<d>1</d>"))
    assert texts(root, "d") == ["1", "2"]


def test_merge_from_env_is_not_part_of_identity_and_a_value_drops_it() -> None:
    root = merged(("config.d/a.xml", ch("<endpoint>http://s3/b/</endpoint>")), base=ch('<endpoint from_env="S3_ENDPOINT"/>'))
    assert etree.tostring(root.find("endpoint")) == b"<endpoint>http://s3/b/</endpoint>"


def test_merge_attributes_of_a_valueless_override_are_copied_and_base_text_dropped() -> None:
    root = merged(("config.d/a.xml", ch('<endpoint from_env="S3_ENDPOINT"/>')), base=ch("<endpoint>http://old/</endpoint>"))
    assert etree.tostring(root.find("endpoint")) == b'<endpoint from_env="S3_ENDPOINT"/>'


def test_merge_yandex_and_clickhouse_roots_are_interchangeable() -> None:
    assert texts(merged(("config.d/a.xml", "<yandex><x>1</x></yandex>")), "x") == ["1"]


def test_merge_other_root_raises_clickhouse_message() -> None:
    with pytest.raises(ConfigError, match="Root element doesn't have the corresponding root element as the config file. It must be <clickhouse>"):
        merged(("config.d/a.xml", "<config><x>1</x></config>"))


def test_merge_malformed_xml_names_the_file() -> None:
    with pytest.raises(ConfigError, match=f"Failed to merge config with '{ETC}/config.d/a.xml'"):
        merged(("config.d/a.xml", "<clickhouse><x></clickhouse>"))


def test_merge_remove_and_replace_together_raise() -> None:
    with pytest.raises(ConfigError, match="both remove and replace attributes set for element <x>"):
        merged(("config.d/a.xml", ch('<x remove="1" replace="1"/>')), base=ch("<x/>"))


def test_merge_yaml_is_not_modelled() -> None:
    with pytest.raises(NotImplementedError):
        merged(("config.d/a.yaml", "x: 1"))


def test_merge_same_identity_siblings_do_not_accumulate_across_files() -> None:
    root = merged(("config.d/a.xml", replicas(["h1"])), ("config.d/b.xml", replicas(["h2"])))
    assert texts(root, "remote_servers/c1/shard/replica/host") == ["h2"]


def test_merge_one_override_sibling_merges_into_the_tree_root_match_on_26_5() -> None:
    root = merged(("config.d/a.xml", replicas(["X"])), base=replicas(["h1", "h2", "h3"]))
    assert texts(root, "remote_servers/c1/shard/replica/host") == ["h1", "X", "h3"]


def test_merge_lower_bound_rule_gives_the_pre_26_5_first_sibling() -> None:
    root = merged(("config.d/a.xml", replicas(["X"])), base=replicas(["h1", "h2", "h3"]), find_rule="lower_bound")
    assert texts(root, "remote_servers/c1/shard/replica/host") == ["X", "h2", "h3"]


def test_merge_listen_host_override_replaces_one_of_two() -> None:
    root = merged(("config.d/a.xml", ch("<listen_host>::1</listen_host>")), base=ch("<listen_host>::</listen_host><listen_host>0.0.0.0</listen_host>"))
    assert texts(root, "listen_host") == ["::1", "0.0.0.0"]


def test_merge_replace_keeps_its_attribute_so_from_env_may_replace_the_value() -> None:
    root = merged(("config.d/a.xml", ch('<macros><r replace="1" from_env="R">x</r></macros>')), base=ch("<macros><r>a</r></macros>"))
    assert chmerge.substitute_env(root, {"R": "r1"}).findtext("macros/r") == "r1"


def test_merge_replace_inside_an_appended_subtree_is_stripped() -> None:
    root = merged(("config.d/a.xml", ch('<macros><replica replace="1" from_env="R">x</replica></macros>')))
    assert root.find("macros/replica").get("replace") is None


# --- substitute_env -------------------------------------------------------------------------

def env_root(xml: str, env: dict[str, str]) -> etree._Element:
    return chmerge.substitute_env(merged(("config.d/a.xml", ch(xml))), env)


def test_env_set_variable_fills_the_element() -> None:
    assert texts(env_root('<macros><replica from_env="R"/></macros>', {"R": "r-0"}), "macros/replica") == ["r-0"]


def test_env_unset_variable_leaves_the_element_empty() -> None:
    assert etree.tostring(env_root('<e from_env="S3_ENDPOINT"/>', {}).find("e")) == b'<e from_env="S3_ENDPOINT"/>'


def test_env_unset_optional_element_is_removed() -> None:
    assert env_root('<e from_env="S3_ENDPOINT" optional="true"/>', {}).find("e") is None


def test_env_on_element_with_value_raises_clickhouse_message() -> None:
    with pytest.raises(ConfigError, match="Element <endpoint> has value and does not have 'replace' attribute, can't process from_env substitution"):
        env_root('<endpoint from_env="S3_ENDPOINT">http://x/</endpoint>', {"S3_ENDPOINT": "http://y/"})


def test_env_whitespace_counts_as_a_value() -> None:
    with pytest.raises(ConfigError, match="has value"):
        env_root('<endpoint from_env="S3_ENDPOINT"> </endpoint>', {"S3_ENDPOINT": "http://y/"})


def test_env_replace_allows_substituting_over_a_value() -> None:
    root = chmerge.substitute_env(chmerge.merge(ch('<e replace="1" from_env="V">old</e>'), []), {"V": "new"})
    assert etree.tostring(root.find("e")) == b"<e>new</e>"


@pytest.mark.parametrize("value", ["a&b", "a<b"])
def test_env_value_is_parsed_as_xml(value: str) -> None:
    with pytest.raises(ConfigError, match="SAXParseException"):
        env_root('<e from_env="V"/>', {"V": value})


def test_env_escaped_value_is_decoded() -> None:
    assert texts(env_root('<e from_env="V"/>', {"V": "a&amp;b"}), "e") == ["a&b"]


def test_env_two_substitutions_raise() -> None:
    with pytest.raises(ConfigError, match="More than one substitution attribute is set for element <e>"):
        env_root('<e from_env="V" incl="x"/>', {"V": "1"})


# --- summarize_storage ----------------------------------------------------------------------

S3_DISK = ('<s3_disk><type>s3</type><endpoint from_env="S3_ENDPOINT"/>'
           "<use_environment_credentials>true</use_environment_credentials></s3_disk>")


def cache_disk(max_size: str = "20Gi", backing: str = "s3_disk") -> str:
    return (f"<s3_disk_cache><type>cache</type><disk>{backing}</disk><path>s3_disk_cache/</path>"
            f"<max_size>{max_size}</max_size></s3_disk_cache>")


def storage(disks: str, policy_disk: str = "s3_disk_cache", merge_policy: str = "s3_main") -> str:
    return ch(f"<storage_configuration><disks>{disks}</disks><policies><s3_main><volumes><main>"
              f"<disk>{policy_disk}</disk></main></volumes></s3_main></policies></storage_configuration>"
              f"<merge_tree><storage_policy>{merge_policy}</storage_policy></merge_tree>")


def summary(*files: tuple[str, str]) -> dict[str, Any]:
    return chmerge.summarize_storage(merged(*files))


def test_storage_guide_shape_is_summarized_without_problems() -> None:
    got = summary(("config.d/50-storage.xml", storage(S3_DISK + cache_disk())))
    assert got == {"disks": [{"name": "s3_disk", "type": "s3", "disk": None, "max_size": None, "endpoint": ""},
                             {"name": "s3_disk_cache", "type": "cache", "disk": "s3_disk", "max_size": "20Gi", "endpoint": None}],
                   "policies": {"s3_main": {"main": ["s3_disk_cache"]}}, "merge_tree_storage_policy": "s3_main", "problems": []}


def test_storage_cache_before_its_backing_disk_in_one_file() -> None:
    assert summary(("config.d/a.xml", storage(cache_disk() + S3_DISK)))["problems"] == [
        "Code: 36. DB::Exception: Cannot wrap disk `s3_disk` with cache layer `s3_disk_cache`: there is no such disk (it should be initialized before cache disk). (BAD_ARGUMENTS)"]


def test_storage_cache_in_an_earlier_sorting_file_comes_first() -> None:
    got = summary(("config.d/10-cache.xml", storage(cache_disk())), ("config.d/20-s3.xml", storage(S3_DISK)))
    assert [d["name"] for d in got["disks"]] == ["s3_disk_cache", "s3_disk"] and "Cannot wrap disk" in got["problems"][0]


def test_storage_policy_naming_a_missing_disk() -> None:
    assert summary(("config.d/a.xml", storage(S3_DISK + cache_disk(), policy_disk="s3_disk_cach3")))["problems"] == ["Code: 479. DB::Exception: Unknown disk s3_disk_cach3. (UNKNOWN_DISK)"]


def test_storage_unknown_merge_tree_policy() -> None:
    assert summary(("config.d/a.xml", storage(S3_DISK + cache_disk(), merge_policy="s3_mian")))["problems"] == ["Code: 478. DB::Exception: Unknown storage policy `s3_mian`. (UNKNOWN_POLICY)"]


def test_storage_disk_names_are_not_trimmed() -> None:
    assert summary(("config.d/a.xml", storage(S3_DISK + cache_disk(backing=" s3_disk "))))["problems"][0].startswith("Code: 36. DB::Exception: Cannot wrap disk ` s3_disk `")


@pytest.mark.parametrize(("raw", "size"), [("20Gi", 20 << 30), ("20G", 20 * 10**9), ("20Ki", 20 << 10), ("20k", 20000), ("21474836480", 21474836480), ("+1Ti", 1 << 40)])
def test_size_accepted(raw: str, size: int) -> None:
    assert parse_size(raw) == size


@pytest.mark.parametrize(("raw", "message"), [
    ("20GB", "Code: 27. DB::Exception: Cannot parse input: expected 'eof' before: 'B'. (CANNOT_PARSE_INPUT_ASSERTION_FAILED)"),
    ("20GiB", "expected 'eof' before: 'B'"), ("20gi", "expected 'eof' before: 'gi'"), ("20 Gi", "expected 'eof' before: ' Gi'"),
    (" 20Gi", "expected 'eof' before: ' 20Gi'"), ("-1", "Code: 72. DB::Exception: Unsigned type must not contain '-' symbol. (CANNOT_PARSE_NUMBER)"),
    ("", "Code: 32. DB::Exception: Attempt to read after eof. (ATTEMPT_TO_READ_AFTER_EOF)"), ("+", "Cannot parse number without any digits"),
])
def test_size_rejected(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        parse_size(raw)


@pytest.mark.parametrize("raw", ["0", "0Gi"])
def test_storage_zero_max_size(raw: str) -> None:
    assert summary(("config.d/a.xml", storage(S3_DISK + cache_disk(raw))))["problems"] == ["Code: 36. DB::Exception: `max_size` cannot be 0. (BAD_ARGUMENTS)"]


def test_storage_missing_max_size() -> None:
    xml = storage(S3_DISK + "<c><type>cache</type><disk>s3_disk</disk><path>c/</path></c>", policy_disk="c")
    assert summary(("config.d/a.xml", xml))["problems"] == ["Either `max_size` or `max_size_ratio_to_total_space` must be defined in cache configuration."]


# --- against real ClickHouse (chDB) ---------------------------------------------------------

def needs_chdb(test):  # type: ignore[no-untyped-def]
    """Real ClickHouse is part of the test setup: missing, it fails loudly, never skips."""
    assert chdb_available(), "chdb-core-lite is not installed: pip install -e '.[test]'"
    return test
ENV = {"S3_ENDPOINT": "http://127.0.0.1:9/bucket/r1/"}  # port 9 (discard): nothing is contacted at start


@needs_chdb
def test_chdb_sibling_merge_matches_oracle_on_random_shapes() -> None:
    rng = random.Random(7)
    for _ in range(12):
        base = replicas([f"b{i}" for i in range(rng.randint(1, 8))])
        files = {f"{f}.xml": replicas([f"x{f}{j}" for j in range(rng.randint(1, 4))]) for f in range(rng.randint(1, 3))}
        run = run_chdb(files, queries=["SELECT host_name FROM system.clusters WHERE cluster = 'c1' ORDER BY replica_num"], base_config=base.replace("<clickhouse>", "<clickhouse><filesystem_caches_path></filesystem_caches_path>"))
        assert [r[0] for r in run.results[0]] == texts(chmerge.merge(base, [(f"config.d/{k}", v) for k, v in files.items()]), "remote_servers/c1/shard/replica/host"), run.stderr


@needs_chdb
def test_chdb_guide_storage_matches_summary() -> None:
    files = {"50-storage.xml": storage(S3_DISK + cache_disk())}
    run = run_chdb(files, ENV)
    assert run.ok and run.results[1:] == [[["default", "default", "default"], ["s3_main", "main", "s3_disk_cache"]], [["s3_main"]], [["s3_disk_cache", 20 << 30]]], run.stderr


@needs_chdb
def test_chdb_refuses_cache_in_earlier_file_like_the_oracle() -> None:
    run = run_chdb({"10-cache.xml": storage(cache_disk()), "20-s3.xml": storage(S3_DISK)}, ENV)
    assert not run.ok and summary(("config.d/10-cache.xml", storage(cache_disk())), ("config.d/20-s3.xml", storage(S3_DISK)))["problems"][0] in run.stderr


@needs_chdb
@pytest.mark.parametrize("raw", ["20GB", "20gi", "-1", "0", ""])
def test_chdb_max_size_message_matches_oracle(raw: str) -> None:
    run = run_chdb({"50-storage.xml": storage(S3_DISK + cache_disk(raw))}, ENV)
    assert not run.ok and summary(("config.d/a.xml", storage(S3_DISK + cache_disk(raw))))["problems"][0] in run.stderr


@needs_chdb
def test_chdb_unset_env_leaves_macro_empty_and_optional_removes_it() -> None:
    xml = ch('<macros><replica from_env="R"/><shard from_env="S" optional="true"/><layer>l</layer></macros>')
    run = run_chdb({"a.xml": xml}, {}, queries=["SELECT macro, substitution FROM system.macros ORDER BY macro"])
    oracle = chmerge.substitute_env(merged(("config.d/a.xml", xml)), {}).find("macros")
    assert run.results == [sorted([e.tag, e.text or ""] for e in oracle)] == [[["layer", "l"], ["replica", ""]]], run.stderr


@needs_chdb
def test_chdb_conf_d_is_overridden_by_config_d() -> None:
    run = run_chdb({"a.xml": ch("<macros><r>config.d</r></macros>")}, {}, queries=["SELECT getMacro('r')"], conf_d={"z.xml": ch("<macros><r>conf.d</r></macros>")})
    assert run.results == [[["config.d"]]], run.stderr


@needs_chdb
def test_chdb_replaced_element_keeps_replace_for_from_env() -> None:
    base = ch("<filesystem_caches_path></filesystem_caches_path><macros><r>a</r></macros>")
    run = run_chdb({"a.xml": ch('<macros><r replace="1" from_env="R">x</r></macros>')}, {"R": "r1"}, queries=["SELECT getMacro('r')"], base_config=base)
    assert run.results == [[["r1"]]], run.stderr


@needs_chdb
@pytest.mark.parametrize("content", ["<config><x>1</x></config>", "<clickhouse><x></clickhouse>"])
def test_chdb_refuses_files_the_oracle_refuses(content: str) -> None:
    with pytest.raises(ConfigError):
        merged(("config.d/a.xml", content))
    assert not run_chdb({"a.xml": content}, {}, queries=["SELECT 1"]).ok


@needs_chdb
@pytest.mark.parametrize(("xml", "env"), [
    ('<macros><r from_env="R">x</r></macros>', {"R": "1"}),
    ('<macros><r replace="1" from_env="R">x</r></macros>', {"R": "1"}),  # replace stripped on append
    ('<macros><r from_env="R"/></macros>', {"R": "a&b"}),
])
def test_chdb_refuses_what_the_oracle_refuses(xml: str, env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        chmerge.substitute_env(merged(("config.d/a.xml", ch(xml))), env)
    assert not run_chdb({"a.xml": ch(xml)}, env, queries=["SELECT getMacro('r')"]).ok
