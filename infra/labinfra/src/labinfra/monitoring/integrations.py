"""How the lab watches Home Assistant, Proxmox VE and TrueNAS: config, jobs, rate limits.

One neutral description of each scrape job (`IntegrationJob`) is rendered two ways, so the
configuration a real Prometheus runs in the tests is the one the cluster gets:

- `scrape_config_spec`: the ScrapeConfig custom resource (prometheus-operator v0.93),
  credentials and the lab CA referenced from Secrets and ConfigMaps;
- `prometheus_scrape_config`: a plain `scrape_configs` entry, credentials and CA as files.

Availability and latency SLIs come from the blackbox exporter probing each API as a user
would (`blackbox_config`): one request per probe, timed end to end. Home Assistant's own
metrics are scraped with its long-lived token; Proxmox through prometheus-pve-exporter
behind a cache (`pve_cache_nginx_conf`); TrueNAS pushes Graphite to graphite_exporter.

Rate limits (`plan`): every integration has a budget of API requests per minute. Probes
and direct scrapes are made by every Prometheus replica, so their intervals are stretched
by the number of replicas; pve-exporter's many API calls per collection are made at most
once per cache period whatever the number of replicas, because all replicas scrape one
cache in front of the one exporter.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from labinfra.stackconfig import ConfigModel

PVE_EXPORTER_PORT = 9221
PVE_CACHE_PORT = 9222
BLACKBOX_PORT = 9115
GRAPHITE_EXPORTER_WEB_PORT = 9108
GRAPHITE_EXPORTER_INGEST_PORT = 9109

MIN_INTERVAL_SECONDS = 30
"""No integration is asked more often than this, whatever its budget allows."""

PVE_FIXED_CALLS = 16
"""pve-exporter 3.10.2's API calls per collection of a one-node cluster besides one per
guest (its config), as counted against fakepve by tests/integrations/test_proxmox.py:
cluster/status x7, cluster/resources x3, version, backup-info, qdevice, and the node's
subscription, qemu and lxc lists."""

HOST_PORT = r"^[\w.\-]+:\d+$"


class _Reachable(ConfigModel):
    """What NetworkPolicies and source-address allow-lists need to know of an integration."""

    cidrs: list[str] = Field(default_factory=list)
    """The integration's addresses as CIDRs (`192.168.50.5/32`). NetworkPolicies match
    addresses, not names: required when the address is a DNS name, derived from it when it
    is an IP address."""

    @field_validator("cidrs")
    @classmethod
    def _networks(cls, cidrs: list[str]) -> list[str]:
        return [str(ipaddress.ip_network(c, strict=True)) for c in cidrs]

    def _addresses(self) -> list[str]:
        raise NotImplementedError

    def endpoints(self) -> list[tuple[str, int]]:
        """(host, port) of every API address."""
        return [(a.rsplit(":", 1)[0], int(a.rsplit(":", 1)[1])) for a in self._addresses()]

    def network_cidrs(self) -> list[str]:
        """`cidrs`, or the CIDRs of addresses given as IPs; ValueError naming a DNS name."""
        if self.cidrs:
            return list(self.cidrs)
        found: list[str] = []
        for host, _ in self.endpoints():
            try:
                ip = ipaddress.ip_address(host)
            except ValueError:
                raise ValueError(
                    f"{type(self).__name__}: {host} is a DNS name; give its addresses in "
                    "`cidrs` (NetworkPolicies and allow-lists match addresses)"
                ) from None
            found.append(str(ipaddress.ip_network(ip)))
        return sorted(set(found))


class HomeAssistant(_Reachable):
    address: str = Field(pattern=HOST_PORT)
    scheme: Literal["http", "https"] = "https"
    max_requests_per_minute: float = Field(default=6, gt=0)
    """API requests per minute the lab allows itself (probes and scrapes together)."""

    def _addresses(self) -> list[str]:
        return [self.address]

    @field_validator("scheme")
    @classmethod
    def _encrypted(cls, scheme: str) -> str:
        # The external zone requires encryption (inventory zones.yml), and Home Assistant
        # serves TLS itself (its http integration's ssl_certificate and ssl_key).
        if scheme != "https":
            raise ValueError(
                "Home Assistant is reached over https only (zone external requires "
                "encryption): give it a certificate from the lab CA (http: ssl_certificate, "
                "ssl_key in its configuration.yaml)"
            )
        return scheme


class Proxmox(_Reachable):
    hosts: list[Annotated[str, Field(pattern=HOST_PORT)]] = Field(min_length=1)
    """Proxmox VE nodes as `host:8006`."""
    user: str = "prometheus@pve"
    token_name: str = "monitoring"  # noqa: S105 (the token's name, not its value)
    verify_tls: bool = True
    """Kept so that a stack saying `verifyTls: false` gets a reason, not an unknown key."""
    max_requests_per_minute: float = Field(default=60, gt=0)
    """API requests per minute per node (probes and pve-exporter together)."""
    max_guests: int = Field(default=20, ge=0)
    """Upper bound of VMs and containers: each costs pve-exporter one call per collection."""

    def _addresses(self) -> list[str]:
        return list(self.hosts)

    @field_validator("verify_tls")
    @classmethod
    def _verified(cls, verify: bool) -> bool:
        if not verify:
            raise ValueError(
                "the Proxmox API is verified against the lab CA and this cannot be switched "
                "off: give each node a certificate from the lab CA (pvenode cert set)"
            )
        return verify


class TrueNas(_Reachable):
    address: str = Field(pattern=HOST_PORT)
    """TrueNAS's web/API address (`truenas.lab.internal:443`)."""
    max_requests_per_minute: float = Field(default=6, gt=0)

    def _addresses(self) -> list[str]:
        return [self.address]


class Integrations(ConfigModel):
    home_assistant: HomeAssistant | None = None
    proxmox: Proxmox | None = None
    truenas: TrueNas | None = None

    @model_validator(mode="after")
    def _budgets_allow_one_probe(self) -> Integrations:
        # The floor below which no interval can honour the budget for even one replica.
        for name, item in self.configured().items():
            if item.max_requests_per_minute < 60 / 3600:
                raise ValueError(f"{name}: maxRequestsPerMinute below one request an hour")
        return self

    def configured(self) -> dict[str, HomeAssistant | Proxmox | TrueNas]:
        found: dict[str, HomeAssistant | Proxmox | TrueNas] = {}
        if self.home_assistant:
            found["home-assistant"] = self.home_assistant
        if self.proxmox:
            found["proxmox"] = self.proxmox
        if self.truenas:
            found["truenas"] = self.truenas
        return found


# -- rate limits ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """Intervals that keep one integration within its budget."""

    probe_interval: int
    """Seconds between probes of one target by one Prometheus replica."""
    scrape_interval: int | None = None
    """Seconds between scrapes of the integration's metrics by one replica."""
    cache_seconds: int | None = None
    """pve-exporter: how long one collection is served to every replica."""

    def api_requests_per_minute(self, replicas: int, calls_per_collection: int = 1) -> float:
        """The most this plan can ask of one API target in a minute."""
        total = replicas * 60 / self.probe_interval
        if self.cache_seconds is not None:
            # At most two collections per cache period: the one that filled the cache and,
            # at worst, one refresh started just before the period ended.
            total += 2 * calls_per_collection * 60 / self.cache_seconds
        elif self.scrape_interval is not None:
            total += replicas * 60 / self.scrape_interval
        return total


def plan(
    integrations: Integrations, replicas: int, *, min_interval: int = MIN_INTERVAL_SECONDS
) -> dict[str, Plan]:
    """Intervals for every configured integration; the budget is split half and half
    between probes and metrics where there are both."""
    if replicas < 1:
        raise ValueError("replicas must be at least 1")

    def interval(requests_per_minute: float, callers: int) -> int:
        # Seconds between requests of each caller so that all of them stay within the rate.
        return max(min_interval, math.ceil(callers * 60 / requests_per_minute))

    plans: dict[str, Plan] = {}
    if integrations.home_assistant:
        half = integrations.home_assistant.max_requests_per_minute / 2
        plans["home-assistant"] = Plan(interval(half, replicas), interval(half, replicas))
    if integrations.proxmox:
        pve = integrations.proxmox
        half = pve.max_requests_per_minute / 2
        calls = PVE_FIXED_CALLS + pve.max_guests
        # One collection per period serves every replica; the +1 is the collection that
        # may start while an expired copy is being replaced.
        cache = interval(half / (calls * 2), 1)
        # Scraping the cache more often than it changes only repeats samples.
        plans["proxmox"] = Plan(interval(half, replicas), cache, cache)
    if integrations.truenas:
        budget = integrations.truenas.max_requests_per_minute
        plans["truenas"] = Plan(interval(budget, replicas))
    return plans


# -- scrape jobs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretKey:
    """A key of a Secret in the monitoring namespace (a file of the same name outside it)."""

    secret: str
    key: str


@dataclass(frozen=True)
class IntegrationJob:
    name: str
    integration: str
    targets: list[str]
    metrics_path: str
    interval: int
    scheme: Literal["http", "https"] = "http"
    params: dict[str, list[str]] = field(default_factory=dict)
    bearer: SecretKey | None = None
    lab_ca: bool = False
    """Verify the target's certificate against the lab CA."""
    via: str | None = None
    """An exporter's `host:port`: each target becomes its `?target=` (multi-target pattern)."""

    @property
    def timeout(self) -> int:
        return min(10, self.interval)


HOME_ASSISTANT_SECRET = SecretKey("home-assistant-token", "token")
LAB_CA_CONFIGMAP = SecretKey("lab-ca", "ca.crt")
BLACKBOX_MODULES = {
    "home-assistant": "home_assistant",
    "proxmox": "proxmox",
    "truenas": "truenas",
}
PROBE_PATHS = {
    # What a user's client asks first; each answers 200 only with valid credentials.
    "home-assistant": "/api/",
    "proxmox": "/api2/json/version",
    "truenas": "/api/v2.0/system/state",
}


def probe_url(integration: str, address: str, scheme: str = "https") -> str:
    return f"{scheme}://{address}{PROBE_PATHS[integration]}"


def integration_jobs(
    integrations: Integrations,
    *,
    replicas: int,
    blackbox_address: str,
    pve_address: str,
    graphite_address: str,
    min_interval: int = MIN_INTERVAL_SECONDS,
) -> list[IntegrationJob]:
    """Every scrape job for the configured integrations, with rate-limited intervals."""
    plans = plan(integrations, replicas, min_interval=min_interval)
    jobs: list[IntegrationJob] = []
    ha, pve, nas = integrations.home_assistant, integrations.proxmox, integrations.truenas
    if ha:
        jobs.append(
            IntegrationJob(
                name="home-assistant",
                integration="home-assistant",
                targets=[ha.address],
                metrics_path="/api/prometheus",
                interval=plans["home-assistant"].scrape_interval or min_interval,
                scheme=ha.scheme,
                bearer=HOME_ASSISTANT_SECRET,
                lab_ca=ha.scheme == "https",
            )
        )
    if pve:
        jobs.append(
            IntegrationJob(
                name="proxmox",
                integration="proxmox",
                targets=list(pve.hosts),
                metrics_path="/pve",
                interval=plans["proxmox"].scrape_interval or min_interval,
                params={"module": ["default"], "cluster": ["1"], "node": ["1"]},
                via=pve_address,
            )
        )
    if nas:
        jobs.append(
            IntegrationJob(
                name="truenas-graphite",
                integration="truenas",
                targets=[graphite_address],
                metrics_path="/metrics",
                interval=MIN_INTERVAL_SECONDS,
            )
        )
    probes: list[tuple[str, list[str]]] = []
    if ha:
        probes.append(("home-assistant", [probe_url("home-assistant", ha.address, ha.scheme)]))
    if pve:
        probes.append(("proxmox", [probe_url("proxmox", h) for h in pve.hosts]))
    if nas:
        probes.append(("truenas", [probe_url("truenas", nas.address)]))
    for integration, urls in probes:
        jobs.append(
            IntegrationJob(
                name=f"probe-{integration}",
                integration=integration,
                targets=urls,
                metrics_path="/probe",
                interval=plans[integration].probe_interval,
                params={"module": [BLACKBOX_MODULES[integration]]},
                via=blackbox_address,
            )
        )
    return jobs


def _via_relabelings(via: str) -> list[dict[str, Any]]:
    # The exporter asks the API named in ?target= on Prometheus' behalf; the instance label
    # keeps the API's address, not the exporter's.
    return [
        {"source_labels": ["__address__"], "target_label": "__param_target"},
        {"source_labels": ["__param_target"], "target_label": "instance"},
        {"target_label": "__address__", "replacement": via},
    ]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)


def scrape_config_spec(job: IntegrationJob) -> dict[str, Any]:
    """The ScrapeConfig (monitoring.coreos.com/v1alpha1) spec of `job`."""
    spec: dict[str, Any] = {
        "jobName": job.name,
        "scrapeInterval": f"{job.interval}s",
        "scrapeTimeout": f"{job.timeout}s",
        "metricsPath": job.metrics_path,
        "scheme": job.scheme.upper(),
        "staticConfigs": [{"targets": list(job.targets), "labels": _labels(job)}],
    }
    if job.params:
        spec["params"] = {k: list(v) for k, v in job.params.items()}
    if job.bearer:
        spec["authorization"] = {
            "type": "Bearer",
            "credentials": {"name": job.bearer.secret, "key": job.bearer.key},
        }
    if job.lab_ca:
        spec["tlsConfig"] = {
            "ca": {"configMap": {"name": LAB_CA_CONFIGMAP.secret, "key": LAB_CA_CONFIGMAP.key}}
        }
    if job.via:
        spec["relabelings"] = [
            {_camel(k): v for k, v in rule.items()} for rule in _via_relabelings(job.via)
        ]
    return spec


def _labels(job: IntegrationJob) -> dict[str, str]:
    return {"lab_integration": job.integration}


def prometheus_scrape_config(
    job: IntegrationJob,
    *,
    credential_files: dict[SecretKey, str] | None = None,
    ca_file: str | None = None,
    via: str | None = None,
    targets: list[str] | None = None,
) -> dict[str, Any]:
    """`job` as a plain Prometheus `scrape_configs` entry.

    Outside the cluster Secrets are files (`credential_files`), the lab CA is `ca_file`,
    and a test may point `via` and `targets` at the servers it started.
    """
    config: dict[str, Any] = {
        "job_name": job.name,
        "scrape_interval": f"{job.interval}s",
        "scrape_timeout": f"{job.timeout}s",
        "metrics_path": job.metrics_path,
        "scheme": job.scheme,
        "static_configs": [
            {
                "targets": list(targets if targets is not None else job.targets),
                "labels": _labels(job),
            }
        ],
    }
    if job.params:
        config["params"] = {k: list(v) for k, v in job.params.items()}
    if job.bearer:
        files = credential_files or {}
        if job.bearer not in files:
            raise ValueError(f"{job.name}: no file given for secret {job.bearer.secret}")
        config["authorization"] = {"type": "Bearer", "credentials_file": files[job.bearer]}
    if job.lab_ca:
        if not ca_file:
            raise ValueError(f"{job.name}: verifies TLS with the lab CA, but no ca_file given")
        config["tls_config"] = {"ca_file": ca_file, "insecure_skip_verify": False}
    if job.via:
        config["relabel_configs"] = _via_relabelings(via or job.via)
    return config


# -- blackbox exporter -------------------------------------------------------------------


def blackbox_config(
    integrations: Integrations,
    *,
    ca_file: str,
    home_assistant_token: str | None = None,
    proxmox_token: str | None = None,
    truenas_api_key: str | None = None,
) -> dict[str, Any]:
    """blackbox.yml: one module per integration, each asking the API as its client does.

    The file holds the credentials (Proxmox wants its own `PVEAPIToken=` header, which the
    blackbox exporter can only send as a literal header), so it is deployed as a Secret.
    """

    def http(headers: dict[str, str], verify: bool, body: str | None) -> dict[str, Any]:
        module: dict[str, Any] = {
            "prober": "http",
            "timeout": "10s",
            "http": {
                "method": "GET",
                "valid_status_codes": [200],
                "headers": headers,
                "follow_redirects": False,
                "fail_if_not_ssl": verify,
                "tls_config": {"ca_file": ca_file, "insecure_skip_verify": not verify},
                "preferred_ip_protocol": "ip4",
            },
        }
        if body:
            module["http"]["fail_if_body_not_matches_regexp"] = [body]
        return module

    modules: dict[str, Any] = {}
    ha, pve, nas = integrations.home_assistant, integrations.proxmox, integrations.truenas
    if ha:
        if not home_assistant_token:
            raise ValueError("home assistant is configured but its token is not")
        modules["home_assistant"] = http(
            {"Authorization": f"Bearer {home_assistant_token}"},
            ha.scheme == "https",
            # GET /api/ answers {"message": "API running."} to an authorised client.
            "API running",
        )
    if pve:
        if not proxmox_token:
            raise ValueError("proxmox is configured but its API token is not")
        modules["proxmox"] = http(
            {"Authorization": f"PVEAPIToken={pve.user}!{pve.token_name}={proxmox_token}"},
            pve.verify_tls,
            '"version"',
        )
    if nas:
        if not truenas_api_key:
            raise ValueError("truenas is configured but its API key is not")
        modules["truenas"] = http({"Authorization": f"Bearer {truenas_api_key}"}, True, "READY")
    return {"modules": modules}


# -- pve-exporter's cache ------------------------------------------------------------------


def pve_cache_nginx_conf(
    *,
    cache_seconds: int,
    listen: str,
    upstream: str,
    runtime_dir: str,
    user: str | None = None,
) -> str:
    """nginx.conf for the cache in front of pve-exporter.

    Every Prometheus replica scrapes this cache; for each URL (one per Proxmox target) it
    asks pve-exporter at most once per `cache_seconds`. proxy_cache_lock makes concurrent
    misses wait for the one request in flight instead of each going upstream, and stale
    answers are served while a refresh runs, so a replica never waits a whole collection.
    `user` matters only when nginx starts as root (the cluster's image runs unprivileged).
    """
    user_line = f"user {user};\n" if user else ""
    return f"""\
# Generated by labinfra.monitoring.integrations.pve_cache_nginx_conf.
{user_line}worker_processes 1;
pid {runtime_dir}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {runtime_dir}/body;
    proxy_temp_path {runtime_dir}/proxy;
    fastcgi_temp_path {runtime_dir}/fastcgi;
    uwsgi_temp_path {runtime_dir}/uwsgi;
    scgi_temp_path {runtime_dir}/scgi;
    proxy_cache_path {runtime_dir}/cache levels=1 keys_zone=pve:1m max_size=64m inactive=1h;
    server {{
        listen {listen};
        location = /healthz {{ return 200 "ok\\n"; }}
        location /pve {{
            proxy_pass http://{upstream};
            proxy_cache pve;
            proxy_cache_key $request_uri;
            proxy_cache_valid 200 {cache_seconds}s;
            proxy_cache_lock on;
            proxy_cache_lock_timeout 60s;
            proxy_cache_lock_age 60s;
            proxy_cache_use_stale updating error timeout;
            proxy_cache_background_update on;
            proxy_read_timeout 60s;
            add_header X-Cache $upstream_cache_status;
        }}
        location / {{ return 404; }}
    }}
}}
"""
