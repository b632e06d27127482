"""k3s etcd snapshots: on a schedule, kept on each server and uploaded to S3-compatible
storage on TrueNAS, configured without a secret in any node's config file.

The cluster stack renders the servers' flags (`EtcdSnapshots.k3s_config`); the S3
endpoint, bucket and credentials are a Secret in kube-system that k3s reads when it takes
a snapshot (`--etcd-s3-config-secret`), which the platform stack creates
(`etcd_s3_secret_data`). The restore procedure is docs/runbooks/backups.md, whose commands
use these same names (tests/test_backups.py).

k3s facts (docs.k3s.io/cli/etcd-snapshot; k3s-io/k3s pkg/cli/cmds/server.go and
pkg/etcd/s3/config_secret.go at their stored versions; the config secret since v1.30.3,
k3s-io/k3s#10487, so in the pinned v1.33.5+k3s1):
- server flags `etcd-snapshot-schedule-cron` (default "0 */12 * * *"),
  `etcd-snapshot-retention` (default 5), `etcd-snapshot-compress`, `etcd-s3`,
  `etcd-s3-config-secret` ("Name of secret in the kube-system namespace used to configure
  S3, if etcd-s3 is enabled and no other etcd-s3 options are set");
- the secret's keys: `etcd-s3-endpoint`, `etcd-s3-bucket`, `etcd-s3-folder`,
  `etcd-s3-region`, `etcd-s3-access-key`, `etcd-s3-secret-key`, `etcd-s3-endpoint-ca`
  (the CA itself, inline), `etcd-s3-insecure`, `etcd-s3-skip-ssl-verify`,
  `etcd-s3-timeout`; scheduled snapshots are named `etcd-snapshot-<node>-<timestamp>`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from labinfra.stackconfig import ConfigModel

ETCD_S3_SECRET = "k3s-etcd-snapshot-s3"  # noqa: S105 (a Secret's name)
SNAPSHOT_PREFIX = "etcd-snapshot"
"""k3s's name for scheduled snapshots (--etcd-snapshot-name default)."""


class EtcdSnapshots(ConfigModel):
    """The cluster stack's `etcdSnapshots`: when k3s snapshots etcd, how many it keeps."""

    schedule_cron: str = Field(default="0 */6 * * *", pattern=r"^\S+( \S+){4}$")
    retention: int = Field(default=28, ge=1)
    """Snapshots kept per server (and in S3): a week at four a day."""
    compress: bool = True
    s3: bool = True
    """Upload each snapshot to S3 (the platform's `backups.etcdS3`)."""
    s3_config_secret: str = ETCD_S3_SECRET

    def k3s_config(self) -> dict[str, Any]:
        """The servers' config.yaml keys."""
        config: dict[str, Any] = {
            "etcd-snapshot-schedule-cron": self.schedule_cron,
            "etcd-snapshot-retention": self.retention,
            "etcd-snapshot-compress": self.compress,
        }
        if self.s3:
            config["etcd-s3"] = True
            config["etcd-s3-config-secret"] = self.s3_config_secret
        return config


class EtcdS3Target(ConfigModel):
    """The platform stack's `backups.etcdS3`: where k3s uploads its etcd snapshots."""

    endpoint: str = Field(pattern=r"^[\w.\-]+(:\d+)?$")
    """host[:port] of the S3 API, TLS verified with the lab CA (e.g. MinIO on TrueNAS)."""
    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
    folder: str = Field(default="k3s", pattern=r"^[\w.\-/]+$")
    region: str = "us-east-1"
    secret_name: str = ETCD_S3_SECRET


class BackupSettings(ConfigModel):
    etcd_s3: EtcdS3Target | None = None

    def secret_keys(self) -> list[str]:
        return ["etcdS3AccessKey", "etcdS3SecretKey"] if self.etcd_s3 else []


def etcd_s3_secret_data(
    target: EtcdS3Target, *, access_key: str, secret_key: str, ca_pem: str
) -> dict[str, str]:
    """The kube-system Secret k3s reads with --etcd-s3-config-secret."""
    return {
        "etcd-s3-endpoint": target.endpoint,
        "etcd-s3-bucket": target.bucket,
        "etcd-s3-folder": target.folder,
        "etcd-s3-region": target.region,
        "etcd-s3-access-key": access_key,
        "etcd-s3-secret-key": secret_key,
        # Verified against the lab CA, never skipped.
        "etcd-s3-endpoint-ca": ca_pem,
        "etcd-s3-skip-ssl-verify": "false",
        "etcd-s3-insecure": "false",
        "etcd-s3-timeout": "5m",
    }
