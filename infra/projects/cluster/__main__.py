"""Entry point of the lab-cluster project: read the stack's config, build the cluster."""

from labinfra.projects.cluster import SECRETS, ClusterConfig, build_cluster
from labinfra.stackconfig import read_config, read_secrets

config = read_config(ClusterConfig, secret_keys=SECRETS)
build_cluster(config, read_secrets(SECRETS)["sshPrivateKey"])
