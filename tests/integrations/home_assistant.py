"""A real Home Assistant (2024.3.3, its own venv), started headless and onboarded over its API.

Onboarding as a person does it in the browser, but through the same endpoints: create the
owner (`POST /api/onboarding/users` -> an auth code), trade the code for an access token
(`POST /auth/token`), then ask the websocket API for a long-lived token, which is what the
lab's Prometheus uses.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import ssl
from dataclasses import dataclass
from pathlib import Path

import httpx
import websockets
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "home-assistant"
CLIENT_ID = "http://127.0.0.1/"


@dataclass(frozen=True)
class HomeAssistantConfig:
    folder: Path
    port: int
    webhook_id: str


@dataclass(frozen=True)
class HomeAssistant:
    url: str
    token: str
    config: HomeAssistantConfig
    ca: Path


def write_config(
    folder: Path,
    *,
    port: int,
    cert: Path,
    key: Path,
    picotemp_url: str,
    dome_status_url: str,
    dome_read_authorization: str,
) -> HomeAssistantConfig:
    """The lab's documented configuration (docs/home-assistant), served on loopback over TLS.

    configuration.yaml and automations.yaml are the documented files as they are; only
    secrets.yaml (the addresses and credentials, in the shape of secrets.example.yaml) and
    where this instance listens are the test's."""
    folder.mkdir(parents=True, exist_ok=True)
    webhook_id = secrets.token_urlsafe(24)
    lab = (DOCS / "configuration.yaml").read_text(encoding="utf-8")
    (folder / "configuration.yaml").write_text(
        lab
        + f"""
# Added by the test: where this instance listens, and its certificate (lab CA).
http:
  server_host: 127.0.0.1
  server_port: {port}
  ssl_certificate: {cert}
  ssl_key: {key}
logger:
  default: warning
""",
        encoding="utf-8",
    )
    (folder / "automations.yaml").write_text(
        (DOCS / "automations.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    secrets_ = {
        "picotemp_url": picotemp_url,
        "dome_status_url": dome_status_url,
        "dome_read_authorization": dome_read_authorization,
        "alertmanager_webhook_id": webhook_id,
    }
    example = yaml.safe_load((DOCS / "secrets.example.yaml").read_text(encoding="utf-8"))
    assert set(secrets_) == set(example), "the documented secrets.yaml has other keys"
    (folder / "secrets.yaml").write_text(json.dumps(secrets_), encoding="utf-8")
    return HomeAssistantConfig(folder, port, webhook_id)


def onboard(base: str, ca: Path) -> str:
    """Create the owner and return a long-lived access token."""
    with httpx.Client(
        base_url=base, verify=ssl.create_default_context(cafile=str(ca)), timeout=30
    ) as client:
        created = client.post(
            "/api/onboarding/users",
            json={
                "client_id": CLIENT_ID,
                "name": "Lab owner",
                "username": "owner",
                "password": secrets.token_urlsafe(16),
                "language": "en",
            },
        )
        created.raise_for_status()
        code = created.json()["auth_code"]
        tokens = client.post(
            "/auth/token",
            data={"grant_type": "authorization_code", "code": code, "client_id": CLIENT_ID},
        )
        tokens.raise_for_status()
        access = str(tokens.json()["access_token"])
    return asyncio.run(_long_lived(base, access, ca))


async def _long_lived(base: str, access: str, ca: Path) -> str:
    context = ssl.create_default_context(cafile=str(ca))
    url = base.replace("https://", "wss://") + "/api/websocket"
    async with websockets.connect(url, ssl=context) as ws:
        assert json.loads(await ws.recv())["type"] == "auth_required"
        await ws.send(json.dumps({"type": "auth", "access_token": access}))
        assert json.loads(await ws.recv())["type"] == "auth_ok"
        await ws.send(
            json.dumps(
                {
                    "id": 1,
                    "type": "auth/long_lived_access_token",
                    "client_name": "lab prometheus",
                    "lifespan": 30,
                }
            )
        )
        answer = json.loads(await ws.recv())
        assert answer["success"], answer
        return str(answer["result"])


async def _ws_command(base: str, token: str, ca: Path, command: dict[str, object]) -> object:
    context = ssl.create_default_context(cafile=str(ca))
    url = base.replace("https://", "wss://") + "/api/websocket"
    async with websockets.connect(url, ssl=context) as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "auth", "access_token": token}))
        assert json.loads(await ws.recv())["type"] == "auth_ok"
        await ws.send(json.dumps({"id": 1, **command}))
        answer = json.loads(await ws.recv())
        assert answer["success"], answer
        return answer["result"]


def ws_command(base: str, token: str, ca: Path, command: dict[str, object]) -> object:
    return asyncio.run(_ws_command(base, token, ca, command))
