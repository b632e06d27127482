"""Alertmanager's configuration from typed stack config, with a working default.

The default (no receivers configured) routes everything to a receiver with no
integrations: Alertmanager runs, alerts are visible in its UI and in Grafana, nothing is
sent anywhere. Configured receivers are webhooks (ntfy, Home Assistant, chat bridges).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from labinfra.stackconfig import ConfigModel

DEFAULT_RECEIVER = "default"


class Receiver(ConfigModel):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    webhook_url: str = Field(pattern=r"^https?://\S+$")
    send_resolved: bool = True


class Route(ConfigModel):
    receiver: str
    matchers: list[str] = Field(min_length=1)
    """Alertmanager matchers, e.g. `severity="critical"`."""
    continue_: bool = Field(default=False, alias="continue")


class AlertmanagerSettings(ConfigModel):
    receivers: list[Receiver] = Field(default_factory=list)
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
    wanted = [settings.default_receiver, *(r.receiver for r in settings.routes)]
    unknown = sorted({n for n in wanted if n not in names})
    if unknown:
        raise ValueError(f"routes name unknown receivers: {', '.join(unknown)}")


def alertmanager_config(settings: AlertmanagerSettings) -> dict[str, Any]:
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
    return {
        "route": {
            "receiver": settings.default_receiver,
            "group_by": ["alertname", "namespace", "job"],
            "group_wait": settings.group_wait,
            "group_interval": settings.group_interval,
            "repeat_interval": settings.repeat_interval,
            # The Watchdog alert fires always by design; it must not page anyone.
            "routes": [{"receiver": DEFAULT_RECEIVER, "matchers": ['alertname="Watchdog"']}]
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
