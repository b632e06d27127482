"""The harness and validators catch the mistakes the mocks let through (each can fail)."""

from __future__ import annotations

import copy
import dataclasses
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from labinfra.inventory import InventoryError
from labinfra.k3s.scripts import uninstall_script
from labinfra.monitoring.alertmanager import AlertmanagerSettings, alertmanager_config
from labinfra.offline.harness import (
    ProgramFailedError,
    RunOptions,
    StackRun,
    fake_secret,
    run_project,
)
from labinfra.offline.lab import MONITORING_DIR, PROJECTS_DIR
from labinfra.offline.render import REDACTED, render_run
from labinfra.offline.validate import (
    CrdCatalog,
    check_stack,
    crd_catalog,
    find_crd_schemas,
    secret_leaks,
    validate_objects,
)
from labinfra.stackconfig import StackConfigError

FIXTURE_INVENTORY = str(Path(__file__).parent / "fixtures" / "hosts.yml")


def _program(tmp_path: Path, body: str) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: scratch\nruntime: python\n")
    (tmp_path / "Pulumi.test.yaml").write_text("config: {}\n")
    (tmp_path / "__main__.py").write_text(textwrap.dedent(body))
    return tmp_path


def test_duplicate_urn_output_in_string_and_default_provider_are_caught(tmp_path: Path) -> None:
    project = _program(
        tmp_path,
        """
        import pulumi
        import pulumi_kubernetes as k8s
        from labinfra.kube import kubernetes_provider

        p = kubernetes_provider("k8s", "kubeconfig")
        opts = pulumi.ResourceOptions(provider=p)
        ns = k8s.core.v1.Namespace("ns", metadata={"name": "a"}, opts=opts)
        k8s.core.v1.ConfigMap("cm", metadata={"name": "x"}, data={"a": "1"}, opts=opts)
        k8s.core.v1.ConfigMap("cm", metadata={"name": "y"}, data={"a": "2"}, opts=opts)
        k8s.core.v1.ConfigMap("text", metadata={"name": "z"}, data={"a": f"{ns.id}"}, opts=opts)
        k8s.core.v1.ConfigMap("nodefault", metadata={"name": "w"}, data={"a": "3"})
        """,
    )
    run = run_project(project, "test")
    messages = [str(p) for p in check_stack(run)]
    assert any("cm: duplicate URN" in m for m in messages)
    assert any("text: data.a: an Output was formatted as text" in m for m in messages)
    assert any("nodefault: uses the default kubernetes provider" in m for m in messages)
    assert len(messages) == 3


def test_a_secret_read_as_plain_config_is_caught(tmp_path: Path) -> None:
    project = _program(
        tmp_path,
        """
        import pulumi
        import pulumi_kubernetes as k8s
        from labinfra.kube import kubernetes_provider

        config = pulumi.Config()
        opts = pulumi.ResourceOptions(provider=kubernetes_provider("k8s", "kubeconfig"))
        k8s.core.v1.Secret("kept", string_data={"t": config.require_secret("token")}, opts=opts)
        k8s.core.v1.ConfigMap("leaked", data={"t": config.require("token")}, opts=opts)
        pulumi.export("plain", config.require("token"))
        pulumi.export("hidden", config.require_secret("token"))
        """,
    )
    (project / "Pulumi.test.yaml").write_text("config:\n  scratch:token:\n    secure: v1:x\n")
    run = run_project(project, "test")
    problems = [str(p) for p in secret_leaks(run, {"token": fake_secret("token")})]
    assert len(problems) == 2
    assert any("leaked: data.t: secret token in clear" in p for p in problems)
    assert any(p.startswith("output plain:") for p in problems)


def test_schema_typos_are_caught(lab_runs: dict[str, StackRun], crds: CrdCatalog) -> None:
    apps = lab_runs["apps"]
    broken = []
    for resource in apps.resources:
        inputs = copy.deepcopy(dict(resource.inputs))
        if resource.name == "picotemp-dome-deployment":
            inputs["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
        if resource.name == "picotemp-dome-servicemonitor":
            inputs["spec"]["endpoints"][0]["intervall"] = "30s"
        if resource.name == "picotemp-dome-service":
            inputs["spec"]["ports"][0]["port"] = "http"
        broken.append(dataclasses.replace(resource, inputs=inputs))
    problems = validate_objects(dataclasses.replace(apps, resources=broken), crds)
    text = "\n".join(str(p) for p in problems)
    assert "livenesProbe" in text
    assert "intervall" in text
    assert "spec.ports.0.port" in text
    assert len(problems) == 3


def _platform(tmp_path: Path, overrides: dict[str, object]) -> ProgramFailedError:
    options = RunOptions(
        overrides={"inventory": FIXTURE_INVENTORY, **overrides},
        stack_references={},
    )
    with pytest.raises(ProgramFailedError) as err:
        run_project(PROJECTS_DIR / "platform", "lab", options)
    return err.value


def test_config_errors_name_each_key_and_create_nothing(tmp_path: Path) -> None:
    failure = _platform(
        tmp_path,
        {
            "clusterStack": None,
            "monitoring": {"retention": "forever"},
            "monitorng": {"retention": "30d"},
            "grafanaAdminPassword": None,
        },
    )
    assert failure.run.resources == []
    cause = failure.__cause__
    assert isinstance(cause, StackConfigError)
    text = str(cause)
    assert "lab-platform:clusterStack: Field required" in text
    assert "lab-platform:monitoring.retention:" in text
    assert "lab-platform:monitorng: unknown key" in text


def test_incomplete_optional_features_are_config_errors(tmp_path: Path) -> None:
    failure = _platform(
        tmp_path,
        {
            "runners": {"enabled": True},
            "nfs": {"enabled": True, "server": "truenas.lab.internal"},
            "alertmanager": {"defaultReceiver": "pager"},
        },
    )
    assert failure.run.resources == []
    text = str(failure.__cause__)
    assert "lab-platform:runners: Value error, githubConfigUrl is required" in text
    assert "lab-platform:nfs: Value error, nfs is enabled" in text
    assert "lab-platform:alertmanager: Value error, routes name unknown receivers: pager" in text


def test_missing_secret_is_named_and_nothing_created(tmp_path: Path) -> None:
    failure = _platform(tmp_path, {"grafanaAdminPassword": None})
    assert failure.run.resources == []
    assert isinstance(failure.__cause__, StackConfigError)
    assert "pulumi config set --secret grafanaAdminPassword" in str(failure.__cause__)


def test_missing_inventory_is_named_and_nothing_created(tmp_path: Path) -> None:
    failure = _platform(tmp_path, {"inventory": str(tmp_path / "absent.yml")})
    assert failure.run.resources == []
    assert isinstance(failure.__cause__, InventoryError)
    assert "absent.yml" in str(failure.__cause__)


def test_unpinned_device_image_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProgramFailedError) as err:
        run_project(
            PROJECTS_DIR / "apps",
            "lab",
            RunOptions(
                overrides={
                    "picotempExporters": [
                        {
                            "name": "x",
                            "serverUrl": "http://10.0.0.9",
                            "image": "registry.lab.internal/picotemp:latest",
                        }
                    ]
                }
            ),
        )
    assert err.value.run.resources == []
    assert "pin it by a version tag or a sha256 digest" in str(err.value.__cause__)


def test_render_writes_objects_and_redacts_secrets(
    lab_runs: dict[str, StackRun], tmp_path: Path
) -> None:
    files = render_run(lab_runs["platform"], tmp_path)
    assert len(files) == len(
        [
            r
            for r in lab_runs["platform"].resources
            if r.custom and not r.type.startswith("pulumi:providers:")
        ]
    )
    folder = tmp_path / "lab-platform" / "lab"
    release = yaml.safe_load(
        next(folder.glob("*-monitoring-kube-prometheus-stack.yaml")).read_text()
    )
    assert release["chart"] == "kube-prometheus-stack"
    assert release["version"] == "88.5.3"
    assert release["values"]["prometheus"]["prometheusSpec"]["retention"] == "30d"
    grafana = yaml.safe_load(next(folder.glob("*-monitoring-grafana-admin.yaml")).read_text())
    # The keys stay (what the Secret carries is reviewable); every value is redacted.
    assert grafana["stringData"] == {"admin-user": REDACTED, "admin-password": REDACTED}
    rendered = "".join(f.read_text() for f in files)
    assert "test-secret-" not in rendered


@pytest.mark.integration
def test_k3s_scripts_pass_shellcheck(lab_runs: dict[str, StackRun], tmp_path: Path) -> None:
    """shellcheck is a separate process: every script the cluster stack would run."""
    scripts = []
    for command in lab_runs["cluster"].of_type("command:remote:Command"):
        for key in ("create", "delete"):
            if command.inputs.get(key):
                path = tmp_path / f"{command.name}-{key}.sh"
                path.write_text(command.inputs[key])
                scripts.append(str(path))
    agent = tmp_path / "agent-uninstall.sh"
    agent.write_text(uninstall_script("agent"))
    scripts.append(str(agent))
    assert len(scripts) >= 9
    result = subprocess.run(
        ["shellcheck", "--shell=sh", "--severity=style", *scripts],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.integration
def test_shellcheck_would_catch_a_broken_script(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/bin/sh\nrm -rf $dir/*\n")
    result = subprocess.run(
        ["shellcheck", "--shell=sh", str(bad)], capture_output=True, check=False
    )
    assert result.returncode != 0


@pytest.mark.integration
@pytest.mark.parametrize(
    "settings",
    [
        AlertmanagerSettings(),
        AlertmanagerSettings.model_validate(
            {
                "receivers": [{"name": "ntfy", "webhookUrl": "http://ntfy.lab.internal/x"}],
                "routes": [{"receiver": "ntfy", "matchers": ['severity="critical"']}],
                "defaultReceiver": "ntfy",
            }
        ),
    ],
    ids=["default", "webhook"],
)
def test_alertmanager_config_passes_amtool(settings: AlertmanagerSettings, tmp_path: Path) -> None:
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(alertmanager_config(settings)))
    result = subprocess.run(
        ["amtool", "check-config", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_route_to_unknown_receiver_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown receivers: pager"):
        AlertmanagerSettings.model_validate(
            {"routes": [{"receiver": "pager", "matchers": ['severity="critical"']}]}
        )


@pytest.mark.integration
def test_dashboard_queries_parse(tmp_path: Path) -> None:
    """promtool parses every dashboard query (as recording rules) in one process."""
    import json

    rules = []
    for path in sorted((MONITORING_DIR / "dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                rules.append(
                    {"record": f"dashboard:{path.stem}:{len(rules)}", "expr": target["expr"]}
                )
    assert rules
    rule_file = tmp_path / "dashboards.rules.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run(
        ["promtool", "check", "rules", str(rule_file)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_is_installed_where_make_test_expects_it() -> None:
    assert shutil.which("promtool"), "deps/apt/infra.txt installs prometheus (promtool)"


def test_render_reports_a_missing_inventory_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from labinfra.offline.render import main

    code = main(["--inventory", str(tmp_path / "absent.yml"), "--out", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err
    # The first project in deployment order that reads the inventory fails first.
    assert err.startswith("labinfra-render: lab-proxmox/lab failed")
    assert "absent.yml" in err
    assert not (tmp_path / "out").exists()


def test_crd_schemas_are_vendored_in_the_repository() -> None:
    """The schemas come from inside the repository, so a clean clone validates the same."""
    root = find_crd_schemas()
    repository = Path(__file__).resolve().parents[3]
    assert root.is_relative_to(repository)
    kinds = crd_catalog(root).kinds()
    for kind in ("ServiceMonitor", "PrometheusRule", "ScrapeConfig", "Cluster"):
        assert any(k == kind for _, k in kinds), f"no vendored schema for {kind}"


def test_a_custom_resource_without_a_schema_is_a_problem(crds: CrdCatalog) -> None:
    problems = crds.validate({"apiVersion": "example.com/v1", "kind": "Widget", "spec": {}})
    assert problems == [f"no CRD schema for example.com/v1 Widget under {crds.root}"]


def test_rendered_objects_validate_against_the_vendored_schemas(
    lab_runs: dict[str, StackRun], crds: CrdCatalog, tmp_path: Path
) -> None:
    """What `make render` writes (secrets redacted, keys kept) is still valid: every
    Kubernetes object against the 1.33 schemas, every custom resource against its CRD."""
    import kubernetes_validate

    from labinfra.offline.validate import KUBERNETES_VERSION

    checked = 0
    problems = []
    for run in lab_runs.values():
        for path in render_run(run, tmp_path):
            obj = yaml.safe_load(path.read_text())
            if "apiVersion" not in obj or "kind" not in obj:
                continue
            checked += 1
            try:
                kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.SchemaNotFoundError:
                problems += [f"{path.name}: {m}" for m in crds.validate(obj)]
            except kubernetes_validate.ValidationError as exc:
                problems.append(f"{path.name}: {exc.message}")
    assert checked > 20
    assert problems == []
