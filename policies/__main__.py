"""The lab's policy pack. Constructing PolicyPack starts the analyzer server and blocks."""

from pulumi_policy import EnforcementLevel, PolicyPack

from labpolicies.pack import PACK_NAME, POLICIES, STACK_POLICIES

PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[*POLICIES, *STACK_POLICIES],
)
