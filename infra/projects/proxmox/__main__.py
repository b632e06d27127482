"""Entry point of the lab-proxmox project: read the stack's config, build the VMs."""

from labinfra.projects.proxmox import SECRETS, ProxmoxConfig, build_proxmox
from labinfra.stackconfig import read_config, read_secrets

config = read_config(ProxmoxConfig, secret_keys=SECRETS)
build_proxmox(config, read_secrets(SECRETS)["apiToken"])
