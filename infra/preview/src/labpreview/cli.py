"""`lab-preview`: the commands the preview workflows and reviewers run.

- `validate FILE`: exit 0, or 2 with one line per problem (`FILE:LINE: path: what`).
- `render FILE --pr N --branch NAME --commit SHA --out DIR`: the Kubernetes objects that
  pull request's stack would create, one YAML file each, from the same mocked run as
  `make render` (secrets redacted, their keys kept).
- The workflow steps (`access`, `gate`, `comment`, `status`, `preserve`, `stack-config`,
  `images`, `ownership`, `preserve-warnings`, `stale-stacks`, `app-image`): see
  `lab-preview COMMAND --help`.

Exit status: 0 done, 1 the operation failed (an API error), 2 bad input (nothing changed),
3 refused (not allowed: access, ownership, permission, quota).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from labpreview.config import ConfigError, load_config

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_REFUSED = 3

Command = Callable[[argparse.Namespace], int]


def _validate(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.file)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem.render(str(args.file)), file=sys.stderr)
        return EXIT_BAD_INPUT
    enabled = ", ".join(config.databases) or "no databases"
    apps = ", ".join(a.name for a in config.all_apps())
    print(f"{args.file}: valid (project {config.project_id}; apps: {apps}; {enabled})")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lab-preview", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="check a k8s-ee.yaml")
    validate.add_argument("file", type=Path)
    validate.set_defaults(run=_validate)
    from labpreview import app_image, workflow

    workflow.add_commands(commands)
    app_image.add_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Command = args.run
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
