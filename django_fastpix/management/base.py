"""The bases of the fastpix_* commands.

``FastPixCommand``: database and encryption failures end as one-line CommandErrors, and a
mistyped command line is never echoed back (it may carry a secret). ``SubcommandCommand``: a
command whose first argument picks a sub-command, dispatched to ``handle_<name>``, with a shared
workspace lookup and ``--json`` on every sub-command.
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

import environ
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor

from ..exceptions import EncryptionKeyError, FastPixError
from ..models import Workspace

MIGRATE_HINT = (
    "The database is not migrated (or not up to date): run `manage.py migrate` and try again."
)

# What a value of the command line is replaced with in a usage error.
HIDDEN = "[hidden]"
SECRET_ON_COMMAND_LINE_HINT = (
    " (a secret is never taken on the command line, where shell history and `ps` keep it: "
    "see --help for the prompt, --stdin, --env-file and --from-env)"
)
# An unknown option's name is shown (it says what was mistyped); a value never is.
OPTION_NAME = re.compile(r"--?[A-Za-z][A-Za-z0-9_-]*")


class FastPixCommand(BaseCommand):
    """A command whose database and encryption errors print one clear line and exit non-zero.

    Django prints a CommandError as one line and exits 1; any other exception becomes a
    traceback, which an operator cannot act on (and which may show more than it should).
    """

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # After add_arguments, so that the sub-command parsers are in the tree too.
        for each in _parser_tree(parser):
            each.__class__ = RedactingCommandParser
        return parser

    def execute(self, *args: Any, **options: Any) -> Any:
        try:
            return super().execute(*args, **options)
        except EncryptionKeyError as exc:
            # Its messages name the row and the remedy, never a key or a value.
            raise CommandError(str(exc)) from None
        except DatabaseError as exc:
            raise CommandError(database_problem(exc, options.get("database"))) from None


class SubcommandCommand(FastPixCommand):
    """A command with sub-commands: ``manage.py fastpix_<noun> ACTION [options]``.

    Subclasses register their sub-parsers in ``add_subcommands`` and implement one
    ``handle_<action>`` method each (dashes become underscores); every sub-command gets
    ``--json``, and a ``FastPixError`` raised by a handler ends as a one-line ``CommandError``.
    """

    def add_arguments(self, parser: CommandParser) -> None:
        subparsers = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        self.add_subcommands(subparsers)
        for name, subparser in subparsers.choices.items():
            if not callable(getattr(self, handler_name(name), None)):
                raise TypeError(f"{type(self).__module__} has no {handler_name(name)}().")
            subparser.add_argument("--json", action="store_true", help="Print JSON.")

    def add_subcommands(self, subparsers: argparse._SubParsersAction[Any]) -> None:
        """Add one parser per sub-command with ``subparsers.add_parser(name, help=...)``."""
        raise NotImplementedError

    def handle(self, *args: Any, **options: Any) -> None:
        handler = getattr(self, handler_name(options["action"]))
        try:
            handler(**options)
        except FastPixError as exc:
            raise CommandError(str(exc)) from None

    def workspace(self, slug: str) -> Workspace:
        """The workspace with this slug, or a CommandError listing the slugs there are."""
        try:
            return Workspace.objects.get(slug=slug)
        except Workspace.DoesNotExist:
            known = ", ".join(Workspace.objects.order_by("slug").values_list("slug", flat=True))
            raise CommandError(f"No workspace {slug!r} (known: {known or 'none'}).") from None

    def write_json(self, data: Any, *, indent: int | None = 2) -> None:
        """Print ``data`` as JSON on standard output."""
        self.stdout.write(json.dumps(data, indent=indent))


def cli_actor() -> str:
    """How the audit columns name the shell user running a command (``cli:<user>``)."""
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = "unknown"
    return f"cli:{user}"


def env_from_file(path: Path) -> environ.Env:
    """An Env over the .env file alone: its secrets never enter os.environ."""
    if not path.is_file():
        raise CommandError(f"No such .env file: {path}")

    class FileEnv(environ.Env):
        ENVIRON: dict[str, str] = {}

    FileEnv.read_env(path, overwrite=True)
    return FileEnv()


def handler_name(action: str) -> str:
    """The method that runs sub-command ``action``."""
    return "handle_" + action.replace("-", "_")


class RedactingCommandParser(CommandParser):
    """A CommandParser whose usage errors name options but never the values given.

    argparse echoes what it could not use (``unrecognized arguments: --secret sk_live…``,
    ``invalid choice: 'sk_live…'``) to the terminal, a log or a CI transcript. A secret pasted
    on the command line already sits in the shell history; it need not be printed as well.
    """

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self._given = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        given = getattr(self, "_given", [])
        redacted = redact_usage_error(message, given, _known_strings(self))
        if any("secret" in name.lower() for name in _unknown_option_names(self, given)):
            redacted += SECRET_ON_COMMAND_LINE_HINT
        super().error(redacted)
        raise AssertionError("unreachable")  # CommandParser.error always raises


def redact_usage_error(message: str, given: Sequence[str], known: set[str]) -> str:
    """``message`` with every value of ``given`` (not an option name or choice) replaced."""
    values: set[str] = set()
    for token in given:
        if token in known:
            continue
        name, equals, value = token.partition("=")
        if token.startswith("-") and equals:
            if value:
                values.add(value)
            if not OPTION_NAME.fullmatch(name):
                values.add(name)
        elif not OPTION_NAME.fullmatch(token):
            values.add(token)
    # Longest first, so that a value containing a shorter one is hidden whole.
    ordered = sorted(values, key=len, reverse=True)
    for value in ordered:
        # argparse quotes a single value it refuses: invalid choice / value, explicit argument.
        message = message.replace(repr(value), HIDDEN)

    def hide(match: re.Match[str]) -> str:
        # These parts of a message are made of the command line alone: hide each value there.
        text = match.group(2)
        for value in ordered:
            text = re.sub(r"(?<![^\s=])" + re.escape(value) + r"(?!\S)", lambda _: HIDDEN, text)
        return match.group(1) + text + match.group(3)

    message = re.sub(r"(unrecognized arguments: )(.*)()$", hide, message, flags=re.S)
    return re.sub(r"(ambiguous option: )(.*?)( could match )", hide, message, flags=re.S)


def _parser_tree(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                yield from _parser_tree(subparser)


def _known_strings(parser: argparse.ArgumentParser) -> set[str]:
    """Option strings, sub-command names and choices anywhere in the parser's tree."""
    known: set[str] = set()
    for each in _parser_tree(parser):
        for action in each._actions:
            known.update(action.option_strings)
            if action.choices is not None:
                known.update(str(choice) for choice in action.choices)
    return known


def _unknown_option_names(parser: argparse.ArgumentParser, given: Sequence[str]) -> list[str]:
    known = _known_strings(parser)
    names = [token.partition("=")[0] for token in given if token.startswith("-")]
    return [name for name in names if OPTION_NAME.fullmatch(name) and name not in known]


def database_problem(exc: DatabaseError, alias: str | None = None) -> str:
    """What to tell an operator about a database error: migrate, or the error's first line."""
    if unapplied_migrations(alias or DEFAULT_DB_ALIAS):
        return MIGRATE_HINT
    # The first line only: PostgreSQL's DETAIL lines may quote the values of a failing row.
    first_line = (str(exc).strip().splitlines() or [""])[0][:200]
    return f"Database error ({type(exc).__name__}): {first_line or 'no details'}"


def unapplied_migrations(alias: str) -> bool:
    """Whether the database lacks migrations (a missing table is the usual cause of the error)."""
    try:
        executor = MigrationExecutor(connections[alias])
        return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    except DatabaseError:
        return False  # the database cannot even be asked: the original error says more
