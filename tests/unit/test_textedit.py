"""Text edits touch only what they change, in the style of the surrounding YAML."""

from __future__ import annotations

from ruamel.yaml import YAML

from postrender.textedit import Buffer, append_item, put, remove_item, scalar
from postrender.yamlio import compose, get


def _edit(text: str, fn) -> str:  # type: ignore[no-untyped-def]
    buf = Buffer(text)
    fn(buf, compose(text)[0])
    return buf.result()


def test_append_env_item_keeps_indent_and_neighbours() -> None:
    text = "env:\n    - name: A  # keep me\n      value: \"1\"\n    - name: B\nnext: x\n"
    out = _edit(text, lambda b, n: append_item(b, get(n, "env"), [{"name": "S3", "value": "u/$(A)/"}], after=0))
    assert out == ("env:\n    - name: A  # keep me\n      value: \"1\"\n    - name: S3\n      value: \"u/$(A)/\"\n"
                   "    - name: B\nnext: x\n")


def test_put_into_null_mapping() -> None:
    text = "template:\n  metadata:\n    annotations:\n    labels:\n      a: b\n"
    out = _edit(text, lambda b, n: put(b, n, ["template", "metadata", "annotations", "k"], "v"))
    assert out == "template:\n  metadata:\n    annotations:\n      k: v\n    labels:\n      a: b\n"


def test_put_into_flow_mapping_keeps_entries() -> None:
    out = _edit("meta: {a: b}\n", lambda b, n: put(b, n, ["meta", "c"], "d"))
    assert YAML(typ="safe").load(out) == {"meta": {"a": "b", "c": "d"}}


def test_put_literal_block_after_quoted_value() -> None:
    text = 'data:\n  a.xml: "<x/>\\n"\n'
    out = _edit(text, lambda b, n: put(b, n, ["data", "b.xml"], "<clickhouse>\n  <y/>\n</clickhouse>\n"))
    assert out == text + "  b.xml: |\n    <clickhouse>\n      <y/>\n    </clickhouse>\n"
    assert YAML(typ="safe").load(out)["data"]["b.xml"] == "<clickhouse>\n  <y/>\n</clickhouse>\n"


def test_replace_existing_scalar_only() -> None:
    out = _edit("a: 1  # c\nb: 2\n", lambda b, n: put(b, n, ["a"], "x"))
    assert out == "a: x  # c\nb: 2\n"


def test_remove_item() -> None:
    out = _edit("l:\n- a\n- b\n- c\n", lambda b, n: remove_item(b, get(n, "l"), 1))
    assert out == "l:\n- a\n- c\n"


def test_scalars_that_yaml_would_retype_are_quoted() -> None:
    assert [scalar(v) for v in ("true", "1e3", "0x1F", "2001-12-14", "90-weave.xml", "a b")] == \
        ['"true"', '"1e3"', '"0x1F"', '"2001-12-14"', "90-weave.xml", '"a b"']
