"""SubcommandCommand: the one base of fastpix_media, _token, _webhooks and _workspace.

Sub-parsers registered by the command, dispatch to handle_<name>, --json on every sub-command,
one workspace lookup whose error lists the slugs there are, FastPixError as a CommandError.
"""

from __future__ import annotations

import argparse
import io
from typing import Any

import pytest
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError

from django_fastpix.exceptions import FastPixError
from django_fastpix.management.base import SubcommandCommand
from tests.commands.conftest import run_capturing

PORTED = ["fastpix_media", "fastpix_token", "fastpix_webhooks", "fastpix_workspace"]


def sub_parsers(name: str) -> dict[str, argparse.ArgumentParser]:
    command = load_command_class("django_fastpix", name)
    parser = command.create_parser("manage.py", name)
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


@pytest.mark.parametrize("name", PORTED)
def test_each_sub_command_takes_json_and_has_a_handler(name):
    command = load_command_class("django_fastpix", name)
    assert isinstance(command, SubcommandCommand)
    for action, parser in sub_parsers(name).items():
        options = {o for a in parser._actions for o in a.option_strings}
        assert "--json" in options, f"{name} {action}"
        assert callable(getattr(command, "handle_" + action.replace("-", "_")))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args",
    [
        ["fastpix_media", "list", "--workspace", "nope"],
        ["fastpix_token", "list", "--workspace", "nope"],
        ["fastpix_webhooks", "list", "--workspace", "nope"],
        ["fastpix_workspace", "show", "nope"],
    ],
    ids=lambda a: a[0],
)
def test_one_workspace_lookup_lists_the_known_slugs(workspace, other_workspace, args):
    _, error = run_capturing(*args)
    assert isinstance(error, CommandError)
    assert str(error) == "No workspace 'nope' (known: dev, prod)."


class Toy(SubcommandCommand):
    def add_subcommands(self, sub: argparse._SubParsersAction[Any]) -> None:
        sub.add_parser("do-thing").add_argument("--fail", action="store_true")
        sub.add_parser("other")

    def handle_do_thing(self, **options: Any) -> None:
        if options["fail"]:
            raise FastPixError("FastPix said no.")
        self.write_json({"json": options["json"]}) if options["json"] else self.stdout.write("did")

    def handle_other(self, **options: Any) -> None:
        self.stdout.write("other")


def test_dispatch_json_and_errors():
    out = io.StringIO()
    call_command(Toy(), "do-thing", stdout=out)
    call_command(Toy(), "do-thing", "--json", stdout=out)
    call_command(Toy(), "other", stdout=out)
    assert out.getvalue().split("\n")[:2] == ["did", "{"] and out.getvalue().endswith("other\n")
    with pytest.raises(CommandError, match=r"^FastPix said no\.$"):
        call_command(Toy(), "do-thing", "--fail")
    with pytest.raises(CommandError, match="ACTION"):
        call_command(Toy())


def test_a_sub_command_without_a_handler_is_a_programming_error():
    class Broken(Toy):
        def add_subcommands(self, sub: argparse._SubParsersAction[Any]) -> None:
            super().add_subcommands(sub)
            sub.add_parser("missing")

    with pytest.raises(TypeError, match="handle_missing"):
        Broken().create_parser("manage.py", "broken")
