# The apps' container images (apps/*/Dockerfile): hadolint, and `make images`, which builds
# them with podman from the labhosts Debian tree and the pinned uv (tests/images/build.py).

lint::
	$(RUN) hadolint apps/picotemp/Dockerfile apps/dome/Dockerfile apps/daq/Dockerfile

.PHONY: images
images: bootstrap ## Build the apps' images (localhost/<app>:0.1.0) with podman, no Docker engine
	$(RUN) python tests/images/build.py
