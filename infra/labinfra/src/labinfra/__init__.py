"""The lab's Pulumi component library: components, pure builders, and the offline harness."""
