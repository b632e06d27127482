"""The lab's policy pack. Constructing PolicyPack starts the analyzer server and blocks."""

from labpolicies.pack import PACK_NAME, POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(name=PACK_NAME, enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)
