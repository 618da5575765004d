"""The ``gait-station`` command line: one click group, one command per verb.

Commands live beside the code they drive and are imported only when used, so
``gait-station models list`` does not pay for OpenCV or Flask. Every error the
station raises on purpose (:class:`station.errors.StationError`) and every bad
file or option becomes one line on stderr and a non-zero exit; ``--debug``
shows the traceback for bug reports.
"""

from __future__ import annotations

import importlib
import logging
import sqlite3
import sys

import click

from station import __version__
from station.errors import StationError


def database_problem(exc: sqlite3.DatabaseError) -> str:
    """One line for a database error: a damaged file (restore a backup), or the error as SQLite words it."""
    if isinstance(exc, sqlite3.OperationalError):
        return f"database: {exc}"
    return (f"the database is damaged ({exc}): 'gait-station db info' checks it; restore a backup "
            "(README, Backups)")

log = logging.getLogger("station")

# command name -> "module:attribute"; imported on first use
COMMANDS: dict[str, str] = {
    "run": "station.cli.live:run",
    "demo": "station.cli.live:demo",
    "db": "station.cli.db:db",
    "analyze": "station.cli.analysis:analyze",
    "validate": "station.cli.analysis:validate",
    "pose": "station.cli.pose:pose",
    "bench": "station.cli.models:bench",
    "models": "station.cli.models:models",
    "serve": "web.cli:serve",
    "hub": "station.cli.hub:hub",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on demand."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            module_name, attr = COMMANDS[cmd_name].split(":")
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                raise click.ClickException(f"command {cmd_name!r} is not available: {exc}") from None
            return getattr(module, attr)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gait-station")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.option("--debug", is_flag=True, hidden=True, help="Show tracebacks.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, debug: bool) -> None:
    """Gait station: per-step pelvic drop for runners, on a Raspberry Pi."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    if debug:
        level = logging.DEBUG
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def run_command(group: click.Group, prog_name: str, argv: list[str] | None,
                expected: tuple[type[BaseException], ...] = (StationError,)) -> int:
    """Run a click group the way every console script of the project does; returns the exit code.

    An ``expected`` error (one the program raises on purpose) and every bad option become one line on
    stderr and a non-zero exit (1); Ctrl-C is 130; a bug is one line with exit 2, the traceback only
    with ``--debug``.
    """
    args = argv if argv is not None else sys.argv[1:]
    debug = "--debug" in args
    try:
        rv = group.main(args=args, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        click.echo(f"{prog_name}: interrupted", err=True)
        return 130
    except click.ClickException as exc:
        click.echo(f"{prog_name}: {exc.format_message()}", err=True)
        return exc.exit_code
    except expected as exc:
        if debug:
            log.exception("error")
        click.echo(f"{prog_name}: {exc}", err=True)
        return 1
    except KeyboardInterrupt:
        click.echo(f"{prog_name}: interrupted", err=True)
        return 130
    except BrokenPipeError:
        return 0
    except sqlite3.DatabaseError as exc:  # raised past the store's own checks: say what it means, in one line
        if debug:
            log.exception("database error")
        click.echo(f"gait-station: {database_problem(exc)}", err=True)
        return 1
    except Exception as exc:  # a bug: one line for the user, the traceback with --debug
        if debug:
            log.exception("unexpected error")
        click.echo(f"{prog_name}: internal error: {type(exc).__name__}: {exc} (rerun with --debug)", err=True)
        return 2
    return rv if isinstance(rv, int) else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    return run_command(cli, "gait-station", argv)
