"""Entry point of the lab-platform project: read the stack's config, build the platform."""

from labinfra.projects.platform import PlatformConfig, build_platform, read_platform_secrets
from labinfra.stackconfig import read_config

config = read_config(PlatformConfig, allowed_keys=PlatformConfig.SECRETS)
build_platform(config, read_platform_secrets(config))
