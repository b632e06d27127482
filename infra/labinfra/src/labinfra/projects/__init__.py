"""One module per Pulumi project: its typed config and the function that builds it.

The projects' `__main__.py` files only read config and call these builders, so the same
code runs under the real engine and under the offline harness.
"""
