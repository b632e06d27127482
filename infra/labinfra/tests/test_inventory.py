from __future__ import annotations

from pathlib import Path

import pytest

from labinfra.inventory import InventoryError, load_inventory, parse_inventory

FIXTURE = Path(__file__).parent / "fixtures" / "hosts.yml"


def test_groups_include_their_children_in_order() -> None:
    inventory = load_inventory(FIXTURE)
    assert [h.name for h in inventory.group("k3s_cluster")] == [
        "node1",
        "node2",
        "node3",
        "pi-dome",
    ]
    assert [h.name for h in inventory.group("k3s_servers")] == ["node1", "node2"]


def test_host_variables_merge_across_groups() -> None:
    inventory = load_inventory(FIXTURE)
    pi = inventory.hosts["pi-dome"]
    assert pi.address == "192.168.50.21"
    assert {"pis", "dome_controllers", "k3s_agents", "k3s_cluster"} <= pi.groups
    assert pi.variables["ansible_architecture"] == "aarch64"


def test_unknown_group_is_empty_but_required_group_is_an_error() -> None:
    inventory = load_inventory(FIXTURE)
    assert inventory.group("nope") == []
    with pytest.raises(InventoryError, match="group 'nope' has no hosts"):
        inventory.require_group("nope")


def test_every_problem_is_reported_at_once() -> None:
    data = {
        "pis": {"hosts": {"a": {}, "b": {"ansible_host": ""}}, "extra": 1},
        "lab_pcs": {"hosts": {"c": {"ansible_host": "10.0.0.3"}}},
    }
    with pytest.raises(InventoryError) as err:
        parse_inventory(data)
    text = str(err.value)
    assert "host 'a' has no ansible_host" in text
    assert "host 'b' has no ansible_host" in text
    assert "unknown keys ['extra']" in text


def test_group_cycle_is_refused() -> None:
    data = {"a": {"children": {"b": {"children": {"a": {}}}}}}
    with pytest.raises(InventoryError, match="group cycle"):
        parse_inventory(data)


def test_missing_file_and_bad_yaml_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match=r"cannot read .*missing\.yml"):
        load_inventory(tmp_path / "missing.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("pis: [unclosed\n")
    with pytest.raises(InventoryError, match=r"bad\.yml is not valid YAML"):
        load_inventory(bad)
    top = tmp_path / "list.yml"
    top.write_text("- a\n")
    with pytest.raises(InventoryError, match="mapping of groups"):
        load_inventory(top)


def test_the_canonical_all_children_form_is_read() -> None:
    data = {
        "all": {
            "children": {
                "pis": {"hosts": {"pi1": {"ansible_host": "10.0.0.11"}}},
                "k3s_cluster": {
                    "children": {
                        "k3s_servers": {"hosts": {"pi1": None}},
                        "k3s_agents": {"hosts": {}},
                    }
                },
                "dome_controllers": {"hosts": {}},
            }
        }
    }
    inventory = parse_inventory(data)
    assert [h.name for h in inventory.group("k3s_servers")] == ["pi1"]
    assert inventory.group("k3s_agents") == []
    assert inventory.hosts["pi1"].address == "10.0.0.11"
    assert {"all", "pis", "k3s_cluster", "k3s_servers"} <= inventory.hosts["pi1"].groups
