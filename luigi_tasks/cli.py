"""The ``luigi-tasks`` command: what is not a Luigi task (the central scheduler, runs, the
catalog, the diagram, the version).

Pipelines run with Luigi's own command::

    luigi --module luigi_tasks.pipelines FullPipeline --local-scheduler
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import luigi.configuration

from luigi_tasks import __version__, catalog_commands, run_commands, run_compare, scheduler, viz
from luigi_tasks.cli_support import DEFAULT_MODULE


def build_parser() -> argparse.ArgumentParser:
    module = luigi.configuration.get_config().get("core", "module", DEFAULT_MODULE)  # luigi.cfg's, as commands use
    parser = argparse.ArgumentParser(
        prog="luigi-tasks",
        description=f"Kedro-style ML projects on Luigi. Run pipelines with "
        f"'luigi --module {module} FullPipeline --local-scheduler'.",
    )
    parser.add_argument("--version", action="version", version=f"luigi-tasks {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    scheduler.add_cli(commands)
    run_compare.add_cli(run_commands.add_cli(commands))
    catalog_commands.add_cli(commands)
    viz.add_cli(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``luigi-tasks`` console script."""
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
            if hasattr(args, "func"):
                return int(args.func(args))
            parser.print_help()
            return 0
        finally:
            sys.stdout.flush()  # here, where a closed pipe is caught, rather than at exit
    except BrokenPipeError:
        # The reader left early (`luigi-tasks runs list | head -1`). As the Python docs
        # recommend (signal module, note on SIGPIPE): no traceback, and nothing more written.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
