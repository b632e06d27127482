"""The lab's policy pack: rules as plain functions, wrapped as pulumi-policy policies."""
