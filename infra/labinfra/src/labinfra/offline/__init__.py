"""Run the lab's Pulumi projects offline under Pulumi's mocks, validate and render the result.

This is the strongest check available without a Pulumi CLI, provider plugins or a cluster.
It does not replace `pulumi preview` against the real cluster: providers never see the
objects, Helm charts are never templated, and the API server never admits anything.
"""
