"""The cluster stack as a real k3s cluster would meet it: load balancing, the registry as
the nodes pull from it, the kubeconfig, the checksums."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from cryptography import x509

from labinfra.k3s.cluster import kubeconfig_refresh_window
from labinfra.k3s.scripts import (
    REGISTRIES_FILE,
    KubeconfigError,
    cluster_identity,
    public_kubeconfig,
)
from labinfra.offline.fakes import k3s_kubeconfig
from labinfra.offline.harness import ProgramFailedError, StackRun
from labinfra.offline.lab import run_lab
from labinfra.stackconfig import StackConfigError


def _installs(run: StackRun) -> list[dict[str, str]]:
    return [
        dict(r.inputs) for r in run.of_type("command:remote:Command") if r.name.endswith("-k3s")
    ]


def _heredoc(script: str, marker: str) -> str:
    match = re.search(rf"<<'{marker}'\n(.*?){marker}\n", script, re.S)
    assert match, f"no {marker} heredoc"
    return match.group(1)


def test_servicelb_stays_on_so_traefik_gets_an_address(lab_runs: dict[str, StackRun]) -> None:
    """Defect 1: with ServiceLB disabled and no other load balancer, Traefik's LoadBalancer
    Service (the k3s-packaged chart's default type) never gets an address and the registry
    and Grafana Ingresses are unreachable."""
    for install in _installs(lab_runs["cluster"]):
        config = yaml.safe_load(_heredoc(install["create"], "K3S_CONFIG"))
        assert "servicelb" not in (config.get("disable") or []), config
    ingresses = [
        r.inputs for r in lab_runs["platform"].kubernetes_objects() if r.inputs["kind"] == "Ingress"
    ]
    assert {i["spec"]["ingressClassName"] for i in ingresses} == {"traefik"}


def test_every_node_resolves_the_registry_to_itself(lab_runs: dict[str, StackRun]) -> None:
    """Defect 1: the registry's name must resolve on the nodes; ServiceLB answers on every
    node, so each node maps it to its own address."""
    run = lab_runs["cluster"]
    host = run.outputs["registryHost"]
    for resource in run.of_type("command:remote:Command"):
        if not resource.name.endswith("-k3s"):
            continue
        address = resource.inputs["connection"]["host"]
        assert f"{address} {host} " in resource.inputs["create"], resource.name


def test_the_nodes_registry_config_matches_the_images_the_cluster_pulls(
    lab_runs: dict[str, StackRun],
) -> None:
    """Defect 2: the nodes' `configs` key was `registry.lab.internal:5000` while images are
    `registry.lab.internal/...`; the lab registry was a docker.io mirror; no CA was given."""
    host = lab_runs["cluster"].outputs["registryHost"]
    images = {
        c["image"]
        for run in lab_runs.values()
        for r in run.kubernetes_objects()
        for c in _containers(r.inputs)
    }
    # registry.k8s.io is Kubernetes' own (the snapshot controller), not the lab's.
    lab_images = {
        i
        for i in images
        if i.split("/", 1)[0].startswith("registry.") and not i.startswith("registry.k8s.io/")
    }
    assert lab_images, "the apps stack pulls from the lab registry"
    assert {i.split("/", 1)[0] for i in lab_images} == {host}
    pull_secret = lab_runs["apps"].named("devices-registry-pull").inputs["stringData"]
    assert list(yaml.safe_load(pull_secret[".dockerconfigjson"])["auths"]) == [host]
    for install in _installs(lab_runs["cluster"]):
        config = yaml.safe_load(_heredoc(install["create"], "K3S_CONFIG"))
        assert config["private-registry"] == REGISTRIES_FILE
        registries = yaml.safe_load(_heredoc(install["create"], "K3S_REGISTRIES"))
        assert "mirrors" not in registries  # not a pull-through cache of anything
        assert list(registries["configs"]) == [host]
        assert registries["configs"][host]["tls"]["ca_file"]
        assert (
            _heredoc(install["create"], "LAB_CA")
            == lab_runs["cluster"].outputs["labCaCertPem"].strip() + "\n"
        )


def _containers(obj: dict[str, object]) -> list[dict[str, str]]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return []
    template = spec.get("template")
    pod = template.get("spec") if isinstance(template, dict) else None
    return list(pod.get("containers") or []) if isinstance(pod, dict) else []


def test_the_kubeconfig_is_read_again_when_servers_change_and_every_period(
    lab_runs: dict[str, StackRun],
) -> None:
    """Defect 8: fetched once, the kubeconfig outlived k3s's yearly client certificates and
    a rebuilt cluster's new ones."""
    run = lab_runs["cluster"]
    fetch = run.named("k3s-kubeconfig")
    triggers = fetch.inputs["triggers"]
    servers = [
        r
        for r in run.of_type("command:remote:Command")
        if r.name in ("k3s-node1-k3s", "k3s-node2-k3s")
    ]
    for server in servers:
        assert server.inputs["create"] in triggers  # an upgrade or reconfiguration
    assert run.named("k3s-node1-k3s").urn.rsplit("::", 1)[-1] + "-id" in triggers  # a rebuild
    assert any(isinstance(t, str) and t.startswith("every-30d-") for t in triggers)
    for server in servers:
        assert run.depends_on(fetch, server)


def test_the_refresh_window_changes_once_per_period() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    windows = {kubeconfig_refresh_window(start + timedelta(days=d), 30) for d in range(30)}
    assert len(windows) <= 2
    assert kubeconfig_refresh_window(start, 30) != kubeconfig_refresh_window(
        start + timedelta(days=30), 30
    )
    with pytest.raises(ValueError, match="at least one day"):
        kubeconfig_refresh_window(start, 0)


def test_the_exported_kubeconfig_is_k3s_yaml_pointed_at_the_first_server(
    lab_runs: dict[str, StackRun],
) -> None:
    """The kubeconfig is parsed in the shape k3s writes (one `default` cluster, context and
    user, certificates inline); only the server changes."""
    original = yaml.safe_load(k3s_kubeconfig())
    exported = yaml.safe_load(lab_runs["cluster"].outputs["kubeconfig"])
    assert exported["clusters"][0]["cluster"]["server"] == "https://192.168.50.11:6443"
    assert exported["users"] == original["users"]
    assert exported["current-context"] == "default"
    ca = exported["clusters"][0]["cluster"]["certificate-authority-data"]
    cert = x509.load_pem_x509_certificate(base64.b64decode(ca))
    assert cert.subject.rfc4514_string().startswith("CN=k3s-server-ca@")
    client = x509.load_pem_x509_certificate(
        base64.b64decode(exported["users"][0]["user"]["client-certificate-data"])
    )
    assert "O=system:masters" in client.subject.rfc4514_string()


def test_what_is_not_a_kubeconfig_is_refused() -> None:
    with pytest.raises(KubeconfigError, match="not a kubeconfig"):
        public_kubeconfig("Permission denied", "10.0.0.1")
    with pytest.raises(KubeconfigError, match="not YAML"):
        public_kubeconfig("cat: /etc/rancher/k3s/k3s.yaml: No such file", "10.0.0.1")
    broken = yaml.safe_load(k3s_kubeconfig())
    del broken["users"][0]["user"]["client-key-data"]
    with pytest.raises(KubeconfigError, match="lacks client-key-data"):
        public_kubeconfig(yaml.safe_dump(broken), "10.0.0.1")


def test_a_renewed_client_certificate_is_the_same_cluster() -> None:
    """The providers downstream are keyed on the cluster's CA: a refreshed kubeconfig with a
    new client certificate updates them instead of replacing every resource."""
    one = yaml.safe_load(k3s_kubeconfig())
    renewed = yaml.safe_load(k3s_kubeconfig())
    renewed["users"][0]["user"]["client-certificate-data"] = "bmV3"
    rebuilt = yaml.safe_load(k3s_kubeconfig())
    rebuilt["clusters"][0]["cluster"]["certificate-authority-data"] = "b3RoZXI="
    identity = cluster_identity(yaml.safe_dump(one))
    assert cluster_identity(yaml.safe_dump(renewed)) == identity
    assert cluster_identity(yaml.safe_dump(rebuilt)) != identity


def test_providers_downstream_carry_the_cluster_identity(lab_runs: dict[str, StackRun]) -> None:
    identity = cluster_identity(lab_runs["cluster"].outputs["kubeconfig"])
    for project in ("platform", "apps"):
        (provider,) = lab_runs[project].of_type("pulumi:providers:kubernetes")
        assert provider.inputs["clusterIdentifier"] == identity


def test_the_example_checksums_are_refused_with_where_to_get_them() -> None:
    """Defect 7: the example's all-zero sums passed validation and failed on the first node
    after its token was written. Now the stack's configuration is refused up front."""
    with pytest.raises(ProgramFailedError) as err:
        run_lab("lab", stand_ins=False)
    assert err.value.run.resources == []
    cause = err.value.__cause__
    assert isinstance(cause, StackConfigError)
    text = str(cause)
    assert (
        "https://github.com/k3s-io/k3s/releases/download/v1.33.5%2Bk3s1/sha256sum-amd64.txt" in text
    )
    assert "sha256sum-arm64.txt" in text
    assert "raw.githubusercontent.com/k3s-io/k3s/v1.33.5%2Bk3s1/install.sh | sha256sum" in text
