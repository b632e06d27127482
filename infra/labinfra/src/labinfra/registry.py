"""The lab's private container registry (CNCF distribution) and the lab CA behind its TLS.

The CA and the push/pull password are made by the cluster stack (every node trusts the CA
and pulls with the password from its own k3s registry configuration, written when k3s is
installed) and reach the platform stack as secret stack outputs. Only the password's
bcrypt hash reaches the cluster (the htpasswd Secret).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import pulumi_tls as tls
from pydantic import Field

from labinfra.charts import REGISTRY_IMAGE
from labinfra.kube import child_options, restricted_container_security, secret
from labinfra.names import recommended_labels, selector_labels
from labinfra.stackconfig import ConfigModel

REGISTRY_PORT = 5000
REGISTRY_USER = "lab"


class RegistrySettings(ConfigModel):
    """The platform's side of the registry (its name and CA come from the cluster stack)."""

    storage_size: str = Field(default="20Gi", pattern=r"^\d+(Mi|Gi|Ti)$")
    storage_class: str = "local-path"
    cert_validity_hours: int = Field(default=24 * 365, ge=24)


class NodeRegistrySettings(ConfigModel):
    """The cluster's side: the registry's name as images are named, and its CA's lifetime."""

    host: str = Field(pattern=r"^[a-z0-9]([a-z0-9.\-]*[a-z0-9])?$")
    """The host exactly as image names start: `registry.lab.internal/picotemp:0.1.0`."""
    ca_validity_hours: int = Field(default=24 * 365 * 5, ge=24)


@dataclass(frozen=True)
class LabCaArgs:
    common_name: str
    validity_hours: int


class LabCa(pulumi.ComponentResource):
    """A self-signed lab certificate authority."""

    def __init__(
        self, name: str, args: LabCaArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("lab:platform:LabCa", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.key = tls.PrivateKey(f"{name}-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
        self.cert = tls.SelfSignedCert(
            f"{name}-cert",
            private_key_pem=self.key.private_key_pem,
            is_ca_certificate=True,
            validity_period_hours=args.validity_hours,
            allowed_uses=["cert_signing", "crl_signing", "digital_signature"],
            subject=tls.SelfSignedCertSubjectArgs(common_name=args.common_name, organization="lab"),
            opts=child,
        )
        self.cert_pem = self.cert.cert_pem
        self.register_outputs({"certPem": self.cert_pem})

    def issue(
        self,
        name: str,
        dns_names: list[pulumi.Input[str]],
        validity_hours: int,
        opts: pulumi.ResourceOptions,
    ) -> tuple[tls.PrivateKey, tls.LocallySignedCert]:
        """A server key and certificate for `dns_names`, signed by this CA."""
        return CaKeyPair(self.key.private_key_pem, self.cert.cert_pem).issue(
            name, dns_names, validity_hours, opts
        )


@dataclass(frozen=True)
class CaKeyPair:
    """A CA made elsewhere (another stack's outputs) that can sign server certificates."""

    key_pem: pulumi.Input[str]
    cert_pem: pulumi.Input[str]

    def issue(
        self,
        name: str,
        dns_names: list[pulumi.Input[str]],
        validity_hours: int,
        opts: pulumi.ResourceOptions,
    ) -> tuple[tls.PrivateKey, tls.LocallySignedCert]:
        """A server key and certificate for `dns_names`, signed by this CA."""
        key = tls.PrivateKey(f"{name}-key", algorithm="ECDSA", ecdsa_curve="P256", opts=opts)
        request = tls.CertRequest(
            f"{name}-csr",
            private_key_pem=key.private_key_pem,
            dns_names=dns_names,
            subject=tls.CertRequestSubjectArgs(common_name=dns_names[0], organization="lab"),
            opts=opts,
        )
        cert = tls.LocallySignedCert(
            f"{name}-cert",
            cert_request_pem=request.cert_request_pem,
            ca_private_key_pem=self.key_pem,
            ca_cert_pem=self.cert_pem,
            validity_period_hours=validity_hours,
            # Renew a month ahead: the next `pulumi up` in that window replaces it.
            early_renewal_hours=24 * 30,
            allowed_uses=["digital_signature", "key_encipherment", "server_auth"],
            opts=opts,
        )
        return key, cert


@dataclass(frozen=True)
class RegistryArgs:
    namespace: str
    host: pulumi.Input[str]
    settings: RegistrySettings
    ca: CaKeyPair
    password: pulumi.Input[str]
    """The push/pull password of REGISTRY_USER (secret)."""
    htpasswd: pulumi.Input[str]
    """`htpasswd_line` of REGISTRY_USER and the password's bcrypt hash, the only form of
    the password the cluster stores (secret)."""


def htpasswd_line(user: str, bcrypt_hash: str) -> str:
    """One htpasswd entry; distribution's htpasswd auth accepts bcrypt only."""
    return f"{user}:{bcrypt_hash}\n"


def docker_config_json(host: str, user: str, password: str) -> str:
    """A `.dockerconfigjson` document for one registry."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return json.dumps({"auths": {host: {"username": user, "password": password, "auth": token}}})


class Registry(pulumi.ComponentResource):
    password: pulumi.Output[str]
    docker_config: pulumi.Output[str]

    def __init__(
        self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("lab:platform:Registry", name, None, opts)
        self._args = args
        self._name = name
        self._labels = recommended_labels(
            "registry", "image-registry", version=REGISTRY_IMAGE.rsplit(":", 1)[1]
        )
        child = child_options(self, opts)
        s = args.settings
        http_secret = random.RandomPassword(
            f"{name}-http-secret", length=48, special=False, opts=child
        )
        self.password = secret(args.password)
        self.docker_config = secret(
            pulumi.Output.all(args.host, args.password).apply(
                lambda hp: docker_config_json(str(hp[0]), REGISTRY_USER, str(hp[1]))
            )
        )
        key, cert = args.ca.issue(f"{name}-tls", [args.host], s.cert_validity_hours, child)
        secrets = [
            k8s.core.v1.Secret(
                f"{name}-htpasswd",
                metadata=self._metadata("registry-htpasswd"),
                string_data={
                    "htpasswd": secret(args.htpasswd),
                    "http-secret": secret(http_secret.result),
                },
                opts=child,
            ),
            k8s.core.v1.Secret(
                f"{name}-tls",
                metadata=self._metadata("registry-tls"),
                type="kubernetes.io/tls",
                string_data={
                    "tls.crt": pulumi.Output.concat(cert.cert_pem, args.ca.cert_pem),
                    "tls.key": secret(key.private_key_pem),
                },
                opts=child,
            ),
        ]
        volume = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-data",
            metadata=self._metadata("registry-data"),
            spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                access_modes=["ReadWriteOnce"],
                storage_class_name=s.storage_class,
                resources=k8s.core.v1.VolumeResourceRequirementsArgs(
                    requests={"storage": s.storage_size}
                ),
            ),
            opts=child,
        )
        deployment = self._deployment(child_options(self, opts, [*secrets, volume]))
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=self._metadata("registry"),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=selector_labels("registry"),
                ports=[
                    k8s.core.v1.ServicePortArgs(name="http", port=REGISTRY_PORT, target_port="http")
                ],
            ),
            opts=child_options(self, opts, [deployment]),
        )
        k8s.networking.v1.Ingress(
            f"{name}-ingress",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="registry",
                namespace=args.namespace,
                labels=self._labels,
                # k3s's Traefik serves this route on its TLS entrypoint only.
                annotations={"traefik.ingress.kubernetes.io/router.tls": "true"},
            ),
            spec=k8s.networking.v1.IngressSpecArgs(
                ingress_class_name="traefik",
                tls=[
                    k8s.networking.v1.IngressTLSArgs(hosts=[args.host], secret_name="registry-tls")
                ],
                rules=[
                    k8s.networking.v1.IngressRuleArgs(
                        host=args.host,
                        http=k8s.networking.v1.HTTPIngressRuleValueArgs(
                            paths=[
                                k8s.networking.v1.HTTPIngressPathArgs(
                                    path="/",
                                    path_type="Prefix",
                                    backend=k8s.networking.v1.IngressBackendArgs(
                                        service=k8s.networking.v1.IngressServiceBackendArgs(
                                            name="registry",
                                            port=k8s.networking.v1.ServiceBackendPortArgs(
                                                name="http"
                                            ),
                                        )
                                    ),
                                )
                            ]
                        ),
                    )
                ],
            ),
            opts=child_options(self, opts, [service]),
        )
        self.register_outputs({"host": args.host})

    def _metadata(self, name: str) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(
            name=name, namespace=self._args.namespace, labels=self._labels
        )

    def _deployment(self, opts: pulumi.ResourceOptions) -> k8s.apps.v1.Deployment:
        probe = k8s.core.v1.ProbeArgs(
            http_get=k8s.core.v1.HTTPGetActionArgs(path="/", port="http"),
            period_seconds=10,
        )
        env = {
            "REGISTRY_AUTH": "htpasswd",
            "REGISTRY_AUTH_HTPASSWD_REALM": "lab registry",
            "REGISTRY_AUTH_HTPASSWD_PATH": "/auth/htpasswd",
            "REGISTRY_STORAGE_DELETE_ENABLED": "true",
            "OTEL_TRACES_EXPORTER": "none",
        }
        return k8s.apps.v1.Deployment(
            f"{self._name}-deployment",
            metadata=self._metadata("registry"),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=1,
                # One writer on a ReadWriteOnce volume: never run old and new side by side.
                strategy=k8s.apps.v1.DeploymentStrategyArgs(type="Recreate"),
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels("registry")),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=self._labels),
                    spec=k8s.core.v1.PodSpecArgs(
                        automount_service_account_token=False,
                        security_context=k8s.core.v1.PodSecurityContextArgs(
                            run_as_non_root=True,
                            run_as_user=1000,
                            run_as_group=1000,
                            fs_group=1000,
                            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
                        ),
                        containers=[
                            k8s.core.v1.ContainerArgs(
                                name="registry",
                                image=REGISTRY_IMAGE,
                                ports=[
                                    k8s.core.v1.ContainerPortArgs(
                                        name="http", container_port=REGISTRY_PORT
                                    )
                                ],
                                env=[
                                    k8s.core.v1.EnvVarArgs(name=k, value=v)
                                    for k, v in sorted(env.items())
                                ]
                                + [
                                    k8s.core.v1.EnvVarArgs(
                                        name="REGISTRY_HTTP_SECRET",
                                        value_from=k8s.core.v1.EnvVarSourceArgs(
                                            secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(
                                                name="registry-htpasswd", key="http-secret"
                                            )
                                        ),
                                    )
                                ],
                                liveness_probe=probe,
                                readiness_probe=probe,
                                resources=k8s.core.v1.ResourceRequirementsArgs(
                                    requests={"cpu": "20m", "memory": "64Mi"},
                                    limits={"cpu": "500m", "memory": "256Mi"},
                                ),
                                security_context=restricted_container_security(),
                                volume_mounts=[
                                    k8s.core.v1.VolumeMountArgs(
                                        name="data", mount_path="/var/lib/registry"
                                    ),
                                    k8s.core.v1.VolumeMountArgs(
                                        name="auth", mount_path="/auth", read_only=True
                                    ),
                                ],
                            )
                        ],
                        volumes=[
                            k8s.core.v1.VolumeArgs(
                                name="data",
                                persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(
                                    claim_name="registry-data"
                                ),
                            ),
                            k8s.core.v1.VolumeArgs(
                                name="auth",
                                secret=k8s.core.v1.SecretVolumeSourceArgs(
                                    secret_name="registry-htpasswd",
                                    items=[
                                        k8s.core.v1.KeyToPathArgs(key="htpasswd", path="htpasswd")
                                    ],
                                ),
                            ),
                        ],
                    ),
                ),
            ),
            opts=opts,
        )
