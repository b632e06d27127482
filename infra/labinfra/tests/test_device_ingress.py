"""The devices' read paths for Home Assistant, through the cluster's ingress over TLS
(labinfra.device_ingress), as the apps stack builds them under Pulumi's mocks.

What the objects are checked against: the Kubernetes schemas and the policy pack (as every
stack object is), the documented Home Assistant configuration in docs/home-assistant (the
URLs it reads), the inventory the stack was given, and the platform stack's NetworkPolicy
for Traefik's namespace.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from labinfra.device_ingress import (
    DeviceIngressSettings,
    dome_devices,
    picotemp_devices,
)
from labinfra.inventory import load_inventory
from labinfra.monitoring.scrape import device_service, service_port
from labinfra.netpol import POLICY_NAME
from labinfra.offline.harness import StackRun
from labinfra.offline.validate import CrdCatalog, validate_objects
from labpolicies.pack import pack_violations

from .conftest import FIXTURE_INVENTORY

DOCS = Path(__file__).resolve().parents[3] / "docs" / "home-assistant"
TRAEFIK_NAMESPACE = "kube-system"
"""Where k3s's packaged Traefik runs (its HelmChart, k3s-io/k3s manifests/traefik.yaml)."""


class _HassLoader(yaml.SafeLoader):
    """Home Assistant's YAML: `!secret name` and `!include file` kept as markers."""


_HassLoader.add_constructor(
    "!secret", lambda loader, node: ("secret", loader.construct_scalar(node))
)  # type: ignore[arg-type]
_HassLoader.add_constructor(
    "!include", lambda loader, node: ("include", loader.construct_scalar(node))
)  # type: ignore[arg-type]


def documented_reads() -> dict[str, set[str]]:
    """Host -> paths the documented REST sensors read (configuration.yaml's resources,
    resolved through secrets.example.yaml), each checked to be HTTPS with verify_ssl on."""
    config = yaml.load(
        (DOCS / "configuration.yaml").read_text(encoding="utf-8"), Loader=_HassLoader
    )
    secrets = yaml.safe_load((DOCS / "secrets.example.yaml").read_text(encoding="utf-8"))
    reads: dict[str, set[str]] = {}
    assert config["rest"], "the documented configuration has no REST sensors"
    for entry in config["rest"]:
        kind, name = entry["resource"]
        assert kind == "secret"
        url = urlsplit(secrets[name])
        assert url.scheme == "https", secrets[name]
        assert url.port is None, f"{secrets[name]}: the ingress serves 443"
        assert entry.get("verify_ssl") is True, f"{name}: verify_ssl must be on"
        assert url.hostname is not None
        reads.setdefault(url.hostname, set()).add(url.path)
    return reads


def _objects(run: StackRun, kind: str) -> list[dict[str, Any]]:
    return [dict(r.inputs) for r in run.kubernetes_objects() if r.inputs["kind"] == kind]


def _ingress(run: StackRun) -> dict[str, Any]:
    (ingress,) = [i for i in _objects(run, "Ingress") if i["metadata"]["name"] == "devices-read"]
    return ingress


def test_the_ingress_routes_exactly_the_documented_read_paths(
    lab_runs: dict[str, StackRun],
) -> None:
    ingress = _ingress(lab_runs["apps"])
    routed: dict[str, set[str]] = {}
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            # Exact only: a Prefix rule on `/` or on the API would open the commands.
            assert path["pathType"] == "Exact", path
            routed.setdefault(rule["host"], set()).add(path["path"])
    assert routed == documented_reads()


def test_the_ingress_serves_tls_from_the_lab_ca_only(lab_runs: dict[str, StackRun]) -> None:
    run = lab_runs["apps"]
    ingress = _ingress(run)
    annotations = ingress["metadata"]["annotations"]
    assert annotations["traefik.ingress.kubernetes.io/router.tls"] == "true"
    assert annotations["traefik.ingress.kubernetes.io/router.entrypoints"] == "websecure"
    hosts = sorted(rule["host"] for rule in ingress["spec"]["rules"])
    (tls,) = ingress["spec"]["tls"]
    assert sorted(tls["hosts"]) == hosts
    (secret,) = [s for s in _objects(run, "Secret") if s["metadata"]["name"] == tls["secretName"]]
    assert secret["type"] == "kubernetes.io/tls"
    # The certificate is signed by the cluster stack's lab CA, for exactly these names.
    (request,) = [r for r in run.resources if r.type == "tls:index/certRequest:CertRequest"]
    assert sorted(request.inputs["dnsNames"]) == hosts
    (signed,) = [
        r for r in run.resources if r.type == "tls:index/locallySignedCert:LocallySignedCert"
    ]
    cluster = lab_runs["cluster"]
    assert signed.inputs["caCertPem"] == cluster.outputs["labCaCertPem"]


def test_the_dome_endpoints_are_the_inventorys_dome_controllers(
    lab_runs: dict[str, StackRun],
) -> None:
    run = lab_runs["apps"]
    inventory = load_inventory(FIXTURE_INVENTORY)
    dome = device_service("dome")
    expected = {(h.address, service_port(h, dome)) for h in inventory.group(dome.group)}
    assert expected, "the fixture inventory has a dome controller"
    services = {s["metadata"]["name"]: s for s in _objects(run, "Service")}
    found = set()
    ingress = _ingress(run)
    dome_backends = {
        p["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for p in rule["http"]["paths"]
        if p["path"].startswith("/api/dome/")
    }
    assert dome_backends
    for slice_ in _objects(run, "EndpointSlice"):
        service = slice_["metadata"]["labels"]["kubernetes.io/service-name"]
        if service not in dome_backends:
            continue
        assert "selector" not in services[service]["spec"], "the device is not a pod"
        (port,) = slice_["ports"]
        assert port["name"] == services[service]["spec"]["ports"][0]["name"]
        assert services[service]["spec"]["ports"][0]["port"] == port["port"]
        for endpoint in slice_["endpoints"]:
            for address in endpoint["addresses"]:
                found.add((address, port["port"]))
    assert found == expected


def test_device_objects_are_schema_valid_and_policy_clean(
    lab_runs: dict[str, StackRun], crds: CrdCatalog
) -> None:
    run = lab_runs["apps"]
    ours = [r for r in run.resources if r.name.startswith("devices-ingress")]
    kinds = {r.inputs["kind"] for r in ours if r.type.startswith("kubernetes:")}
    assert kinds == {"Service", "EndpointSlice", "Ingress", "Secret"}
    problems = [p for p in validate_objects(run, crds) if "devices-ingress" in p.urn]
    assert problems == []
    assert pack_violations(ours) == []


def _admits(policy: dict[str, Any], address: str, port: int) -> bool:
    """Whether one egress NetworkPolicy lets a pod reach address:port (ipBlock rules)."""
    ip = ipaddress.ip_address(address)
    for rule in policy["spec"]["egress"]:
        ports = rule.get("ports")
        if ports and not any(p.get("port") == port for p in ports):
            continue
        for peer in rule.get("to") or []:
            block = peer.get("ipBlock")
            if block is None:
                continue
            network = ipaddress.ip_network(block["cidr"])
            if ip.version != network.version or ip not in network:
                continue
            if any(ip in ipaddress.ip_network(c) for c in block.get("except", [])):
                continue
            return True
    return False


def test_traefik_may_reach_every_exposed_device(lab_runs: dict[str, StackRun]) -> None:
    """The platform keeps every namespace, Traefik's too, from the integrations' addresses;
    the devices behind the Ingress are not among them, so Traefik may reach them."""
    (policy,) = [
        p
        for p in _objects(lab_runs["platform"], "NetworkPolicy")
        if p["metadata"]["name"] == POLICY_NAME and p["metadata"]["namespace"] == TRAEFIK_NAMESPACE
    ]
    slices = _objects(lab_runs["apps"], "EndpointSlice")
    assert slices
    for slice_ in slices:
        (port,) = slice_["ports"]
        for endpoint in slice_["endpoints"]:
            for address in endpoint["addresses"]:
                assert _admits(policy, address, port["port"]), (address, port["port"])
    # The evaluator can refuse: an integration's address stays out of reach.
    assert not _admits(policy, "192.168.60.5", 8123)


def test_bad_device_addresses_are_refused_with_their_name(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.yml"
    hosts.write_text(
        "dome_controllers:\n  hosts:\n    dome-pi: {ansible_host: dome-pi.lab.internal}\n"
    )
    settings = DeviceIngressSettings()
    with pytest.raises(
        ValueError, match=re.escape("dome-pi: ansible_host: 'dome-pi.lab.internal'")
    ):
        dome_devices(load_inventory(hosts), settings)
    with pytest.raises(ValueError, match=re.escape("weather: 'https://192.168.50.9/' is not http")):
        picotemp_devices([("weather", "https://192.168.50.9/")], settings)
    two = picotemp_devices(
        [("a", "http://192.168.50.41"), ("b", "http://192.168.50.42:8080")], settings
    )
    assert [(d.host, d.address, d.port) for d in two] == [
        ("a.picotemp.lab.internal", "192.168.50.41", 80),
        ("b.picotemp.lab.internal", "192.168.50.42", 8080),
    ]
