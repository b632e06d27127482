"""Entry point of the lab-apps project: read the stack's config, build the apps."""

from labinfra.projects.apps import AppsConfig, build_apps
from labinfra.stackconfig import read_config

build_apps(read_config(AppsConfig))
