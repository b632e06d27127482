"""Alertmanager's configuration from typed stack config, with a working default.

The default (no receivers configured) routes everything to a receiver with no
integrations: Alertmanager runs, alerts are visible in its UI and in Grafana, nothing is
sent anywhere. Configured receivers are webhooks (ntfy, chat bridges), and Home Assistant:
its webhook trigger (`POST /api/webhook/<id>`) runs the automation in
docs/home-assistant/automations.yaml. The webhook id is a shared secret, so it comes from a
Pulumi secret and the whole configuration is deployed as a Kubernetes Secret.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from labinfra.stackconfig import ConfigModel

DEFAULT_RECEIVER = "default"
HOME_ASSISTANT_RECEIVER = "home-assistant"
LAB_CA_FILE = "/etc/alertmanager/configmaps/lab-ca/ca.crt"
"""Where the chart mounts the `lab-ca` ConfigMap (alertmanagerSpec.configMaps)."""


class Receiver(ConfigModel):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    webhook_url: str = Field(pattern=r"^https?://\S+$")
    send_resolved: bool = True


class Route(ConfigModel):
    receiver: str
    matchers: list[str] = Field(min_length=1)
    """Alertmanager matchers, e.g. `severity="critical"`."""
    continue_: bool = Field(default=False, alias="continue")


class HomeAssistantReceiver(ConfigModel):
    url: str = Field(pattern=r"^https://[\w.\-]+(:\d+)?$")
    """Home Assistant's base URL, e.g. https://homeassistant.lab.internal:8123: https only,
    verified with the lab CA (the webhook id in the path is a secret)."""
    matchers: list[str] = Field(default_factory=lambda: ['severity=~"critical|warning"'])
    send_resolved: bool = True


class AlertmanagerSettings(ConfigModel):
    receivers: list[Receiver] = Field(default_factory=list)
    home_assistant: HomeAssistantReceiver | None = None
    routes: list[Route] = Field(default_factory=list)
    default_receiver: str = DEFAULT_RECEIVER
    group_wait: str = "30s"
    group_interval: str = "5m"
    repeat_interval: str = "4h"

    @model_validator(mode="after")
    def _routes_name_known_receivers(self) -> AlertmanagerSettings:
        known_receivers(self)
        return self


def known_receivers(settings: AlertmanagerSettings) -> None:
    """Raise ValueError naming every route target that is not a receiver."""
    names = {r.name for r in settings.receivers} | {DEFAULT_RECEIVER}
    if settings.home_assistant:
        names.add(HOME_ASSISTANT_RECEIVER)
    wanted = [settings.default_receiver, *(r.receiver for r in settings.routes)]
    unknown = sorted({n for n in wanted if n not in names})
    if unknown:
        raise ValueError(f"routes name unknown receivers: {', '.join(unknown)}")


def alertmanager_config(
    settings: AlertmanagerSettings,
    *,
    home_assistant_webhook_id: str | None = None,
    ca_file: str = LAB_CA_FILE,
) -> dict[str, Any]:
    """The `alertmanager.yaml` document; raises ValueError naming an unknown receiver."""
    known_receivers(settings)
    receivers: list[dict[str, Any]] = [{"name": DEFAULT_RECEIVER}]
    receivers += [
        {
            "name": r.name,
            "webhook_configs": [{"url": r.webhook_url, "send_resolved": r.send_resolved}],
        }
        for r in settings.receivers
        if r.name != DEFAULT_RECEIVER
    ]
    ha_routes: list[dict[str, Any]] = []
    if settings.home_assistant:
        ha = settings.home_assistant
        if not home_assistant_webhook_id:
            raise ValueError("alertmanager.homeAssistant is set but its webhook id is not")
        webhook: dict[str, Any] = {
            "url": f"{ha.url}/api/webhook/{home_assistant_webhook_id}",
            "send_resolved": ha.send_resolved,
        }
        if ha.url.startswith("https://"):
            webhook["http_config"] = {"tls_config": {"ca_file": ca_file}}
        receivers.append({"name": HOME_ASSISTANT_RECEIVER, "webhook_configs": [webhook]})
        # First and `continue`: Home Assistant sees every alert, the other routes still apply.
        ha_routes.append(
            {"receiver": HOME_ASSISTANT_RECEIVER, "matchers": list(ha.matchers), "continue": True}
        )
    return {
        "route": {
            "receiver": settings.default_receiver,
            "group_by": ["alertname", "namespace", "job"],
            "group_wait": settings.group_wait,
            "group_interval": settings.group_interval,
            "repeat_interval": settings.repeat_interval,
            # The Watchdog alert fires always by design; it must not page anyone.
            "routes": [{"receiver": DEFAULT_RECEIVER, "matchers": ['alertname="Watchdog"']}]
            + ha_routes
            + [
                {"receiver": r.receiver, "matchers": list(r.matchers), "continue": r.continue_}
                for r in settings.routes
            ],
        },
        "inhibit_rules": [
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity="warning"'],
                "equal": ["alertname", "namespace", "instance"],
            }
        ],
        "receivers": receivers,
    }
