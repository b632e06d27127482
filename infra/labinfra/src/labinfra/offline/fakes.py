"""Provider outputs under the mocks, in the form the real providers and tools produce.

A test that checks the mock's own strings proves nothing; these values have the real
shape, so the code that consumes them (and the tests that check it) meet what they will
meet on a real `pulumi up`:

- pulumi-random's RandomPassword with `special=False`: `length` letters and digits, and
  `bcryptHash`, a real bcrypt hash of that password (Go's golang.org/x/crypto/bcrypt writes
  the `$2a$` prefix at its default cost 10).
- k3s's /etc/rancher/k3s/k3s.yaml (docs.k3s.io, "Cluster Access"): one cluster, context and
  user named `default`, the server at https://127.0.0.1:6443, the cluster CA and an admin
  client certificate (O=system:masters) signed by the client CA, all inline as base64 PEM.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import string
from datetime import UTC, datetime, timedelta

import bcrypt
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

_ALPHANUMERIC = string.ascii_letters + string.digits


def random_password(name: str, length: int) -> str:
    """A deterministic stand-in for RandomPassword(special=False): letters and digits."""
    digest = hashlib.sha256(name.encode()).digest()
    while len(digest) < length:
        digest += hashlib.sha256(digest).digest()
    return "".join(_ALPHANUMERIC[b % len(_ALPHANUMERIC)] for b in digest[:length])


@functools.lru_cache(maxsize=64)
def bcrypt_hash(password: str) -> str:
    """A real bcrypt hash of `password`, as the random provider's bcryptHash has it."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10, prefix=b"2a")).decode()


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        parts.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(parts)


def _certificate(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    days: int,
) -> x509.Certificate:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


def _pem64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@functools.lru_cache(maxsize=1)
def k3s_kubeconfig() -> str:
    """A kubeconfig of the shape k3s writes, with real (throw-away) certificates."""
    server_ca_key = ec.generate_private_key(ec.SECP256R1())
    server_ca_name = _name("k3s-server-ca@1764000000")
    server_ca = _certificate(
        server_ca_name, server_ca_key, server_ca_name, server_ca_key, ca=True, days=3650
    )
    client_ca_key = ec.generate_private_key(ec.SECP256R1())
    client_ca_name = _name("k3s-client-ca@1764000000")
    client_ca = _certificate(
        client_ca_name, client_ca_key, client_ca_name, client_ca_key, ca=True, days=3650
    )
    admin_key = ec.generate_private_key(ec.SECP256R1())
    admin = _certificate(
        _name("system:admin", "system:masters"),
        admin_key,
        client_ca_name,
        client_ca_key,
        ca=False,
        days=365,
    )
    pem = serialization.Encoding.PEM
    key_pem = admin_key.private_bytes(
        pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    document = {
        "apiVersion": "v1",
        "clusters": [
            {
                "cluster": {
                    "certificate-authority-data": _pem64(server_ca.public_bytes(pem)),
                    "server": "https://127.0.0.1:6443",
                },
                "name": "default",
            }
        ],
        "contexts": [{"context": {"cluster": "default", "user": "default"}, "name": "default"}],
        "current-context": "default",
        "kind": "Config",
        "preferences": {},
        "users": [
            {
                "name": "default",
                "user": {
                    "client-certificate-data": _pem64(
                        admin.public_bytes(pem) + client_ca.public_bytes(pem)
                    ),
                    "client-key-data": _pem64(key_pem),
                },
            }
        ],
    }
    return yaml.safe_dump(document, sort_keys=False)
