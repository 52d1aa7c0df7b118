"""One registry of PBX vendors: what is registered there is offered and read everywhere."""

import ast
from pathlib import Path

import pytest

from pbx import vendors
from pbx.ringing import RingingEventError
from pbx.testing.captures import REPO_ROOT
from pbx.webhooks import MappingError


def acme_call(item, tz, trunks):
    return {"external_id": item["id"], "tz": tz, "trunks": list(trunks)}


def acme_ringing(event, trunks):
    if event.get("state") != "ring":
        return None, "not ringing"
    return {"from_number": event["from"], "extensions": [event["ext"]], "trunks": trunks}, None


ACME = vendors.Vendor(
    "acme",
    "Acme (call events)",
    "Acme",
    map_call=acme_call,
    read_ringing=acme_ringing,
    lookup=lambda query, bodies: {**query, "looked_up": True},
)


@pytest.fixture
def acme(monkeypatch):
    monkeypatch.setitem(vendors.VENDORS, ACME.key, ACME)
    return ACME


def test_a_registered_vendor_is_offered_and_read_by_both_routes(acme):
    # The PBX's "Webhook Format" field is built from selection().
    assert ("acme", "Acme (call events)") in vendors.selection()
    # The calls webhook: the body is split into items, each mapped.
    items = vendors.batch_items([{"id": "a1"}, {"id": "a2"}], "acme")
    assert [vendors.map_item(item, "acme", "Asia/Seoul", ["^x"]) for item in items] == [
        {"external_id": "a1", "tz": "Asia/Seoul", "trunks": ["^x"]},
        {"external_id": "a2", "tz": "Asia/Seoul", "trunks": ["^x"]},
    ]
    with pytest.raises(MappingError, match="a acme event must be an object"):
        vendors.map_item("text", "acme")
    # The ringing route: the vendor's reader, a native event still passes.
    event = {"state": "ring", "from": "0205550101", "ext": "201"}
    assert vendors.read_ringing(event, "acme", ["^x"]) == (
        {"from_number": "0205550101", "extensions": ["201"], "trunks": ["^x"]},
        None,
    )
    assert vendors.read_ringing({"state": "up"}, "acme") == (None, "not ringing")
    native = {"extensions": ["201"]}
    assert vendors.read_ringing(native, "acme") == (native, None)
    # What the ringing route asks of the vendor for a GET.
    assert vendors.find("acme", RingingEventError).lookup({"n": "1"}, []) == {
        "n": "1",
        "looked_up": True,
    }
    assert vendors.lookup_refused("native").endswith("only 3CX and Acme look up")
    assert vendors.unknown_format("avaya").endswith("native, yeastar, 3cx, freeswitch, acme")


def test_unknown_formats_are_refused_by_both_readers():
    with pytest.raises(MappingError, match="unknown format 'acme'"):
        vendors.batch_items([], "acme")
    with pytest.raises(MappingError, match="unknown format 'acme'"):
        vendors.map_item({}, "acme")
    with pytest.raises(RingingEventError, match="unknown format 'acme'"):
        vendors.read_ringing({}, "acme")


def test_the_registry_today():
    assert vendors.selection() == [
        ("native", "Native (this addon's call schema)"),
        ("yeastar", "Yeastar (P-Series events, S-Series and Cloud PBX NewCdr)"),
        ("3cx", "3CX (CRM template: call journal, contact lookup)"),
        ("freeswitch", "FreeSWITCH (event JSON)"),
    ]
    assert [vendor.key for vendor in vendors.VENDORS.values() if vendor.lookup] == ["3cx"]
    assert vendors.lookup_refused("yeastar") == (
        "the yeastar format posts its events; only 3CX looks up"
    )


def test_a_3cx_lookup_merges_its_query_and_body():
    lookup = vendors.VENDORS["3cx"].lookup
    assert lookup({"Number": "1", "Agent": "201"}, []) == {"Number": "1", "Agent": "201"}
    assert lookup({"Number": "1"}, [{"Agent": "202"}]) == {"Number": "1", "Agent": "202"}
    for body in ([], None, "text"):
        with pytest.raises(RingingEventError, match="a 3cx lookup body must be a JSON object"):
            lookup({}, [body])


def _string_constants(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def test_no_other_file_of_the_addon_names_a_vendor():
    """Models, controllers, wizards and the core name formats through the registry only."""
    keys = set(vendors.VENDORS)
    skipped = {REPO_ROOT / "pbx" / "vendors.py"}
    sources = [
        path
        for folder in ("models", "controllers", "wizard", "pbx")
        for path in (REPO_ROOT / folder).rglob("*.py")
        if "tests" not in path.parts and path not in skipped
    ]
    assert len(sources) > 30
    named = {
        str(Path(path).relative_to(REPO_ROOT)): sorted(_string_constants(path) & keys)
        for path in sources
    }
    assert {path: found for path, found in named.items() if found} == {}
