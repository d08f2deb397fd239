"""Sphinx extension: reference pages generated from the code, so that they cannot drift.

Directives
    ``fastpix-settings``   every key of ``django_fastpix.conf.DEFAULTS``: its default (the live
                           value) and its meaning (the comment lines above it in conf.py).
    ``fastpix-signals``    every ``Signal()`` in ``django_fastpix.signals`` with its comment.
    ``fastpix-commands``   every management command of the app, from its argparse parser:
                           usage, help, arguments, sub-commands.
    ``fastpix-encrypted-fields``  each model's encrypted columns.
    ``fastpix-templatetags``      each tag and filter of ``django_fastpix.templatetags``.
    (automatic)            a field list appended to each model's autodoc, values to Choices'.

Object types
    ``.. setting:: KEY`` / ``:setting:`KEY```    (emitted by ``fastpix-settings``)
    ``.. check:: fastpix.E001`` / ``:check:```   (hand-written on the checks page)

Consistency (warnings, so errors under ``-W``): a ``DEFAULTS`` key without a comment, a signal
without a comment, and a check id quoted anywhere in ``django_fastpix/`` that has no
``.. check::`` entry (or an entry for an id the code no longer has).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import io
import os
import re
import textwrap
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

logger = logging.getLogger(__name__)

# Argparse wraps usage lines to the terminal; the docs must not depend on who built them.
USAGE_WIDTH = "88"

# Options every Django command has; listed once on the page, not under every command.
DJANGO_COMMON_DESTS = {
    "help",
    "version",
    "verbosity",
    "settings",
    "pythonpath",
    "traceback",
    "no_color",
    "force_color",
    "skip_checks",
}

CHECK_ID_IN_CODE = re.compile(r"""["'](fastpix\.[CEIW]\d{3})["']""")


# --- reST text from plain text ------------------------------------------------------------


OPTION = re.compile(r"(?<![\w-])(--[a-z][\w-]*)")


def rst_text(text: str) -> str:
    """Plain text (a code comment, a help string) as inline reST: `x` becomes ``x``.

    Command-line options (``--no-verify``) become literals too. Everything else that reST
    would interpret (emphasis, references, substitutions, roles) is escaped, so a comment can
    say ``BASE * 2**attempt`` without breaking the build.
    """
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: take it literally
        parts = [text.replace("`", "'")]
    out: list[str] = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(literal(part) if part else "")
            continue
        for j, piece in enumerate(OPTION.split(part)):
            out.append(literal(piece) if j % 2 else re.sub(r"([\\*_|<>\[\]])", r"\\\1", piece))
    result = "".join(out)
    # A paragraph must not start like a list item or a comment.
    if re.match(r"^([-+#]|\d+[.)])(\s|$)", result):
        result = "\\" + result
    return result


def literal(value: str) -> str:
    """``value`` as an inline literal (reprs of defaults never hold two backticks in a row)."""
    return f"``{value}``" if value else '``""``'


# --- comments above assignments -------------------------------------------------------------


def comments_by_line(source: str) -> dict[int, tuple[str, bool]]:
    """Line number -> (comment text, whether the comment is the whole line)."""
    found: dict[int, tuple[str, bool]] = {}
    lines = source.splitlines()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            row, col = tok.start
            whole = not lines[row - 1][:col].strip()
            found[row] = (tok.string.lstrip("#").strip(), whole)
    return found


def comment_block_above(
    lines: list[str], comments: dict[int, tuple[str, bool]], line: int, stop: int
) -> tuple[list[str] | None, bool]:
    """The whole-line comments directly above ``line`` (1-based), not above ``stop``.

    Returns (the comment lines or None, whether a blank line separates ``line`` from what is
    above it).
    """
    block: list[str] = []
    row = line - 1
    while row > stop and row in comments and comments[row][1]:
        block.insert(0, comments[row][0])
        row -= 1
    blank = row > stop and not lines[row - 1].strip()
    return (block or None), blank


# --- settings ---------------------------------------------------------------------------------


@dataclass
class SettingGroup:
    """Keys described by one comment block (``CONNECT_TIMEOUT`` and ``READ_TIMEOUT``)."""

    description: str
    keys: list[str] = field(default_factory=list)


def setting_groups() -> list[SettingGroup]:
    """conf.py's DEFAULTS in source order, grouped under the comment that describes them.

    A comment describes the keys that follow it up to the next comment or blank line, as long
    as their names are related (``CONNECT_TIMEOUT``, ``READ_TIMEOUT``); an unrelated key with
    no comment of its own is a warning, not a borrowed description. A trailing comment on a
    key's own line describes that key alone.
    """
    conf = importlib.import_module("django_fastpix.conf")
    path = Path(inspect.getsourcefile(conf) or "")
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    comments = comments_by_line(source)
    defaults_node = _defaults_dict(ast.parse(source), path)
    groups: list[SettingGroup] = []
    current: SettingGroup | None = None
    previous_end = defaults_node.lineno
    seen: list[str] = []
    for key_node, value_node in zip(defaults_node.keys, defaults_node.values, strict=True):
        if not isinstance(key_node, ast.Constant) or not isinstance(key_node.value, str):
            logger.warning(
                "conf.py DEFAULTS: a key that is not a string literal", location=str(path)
            )
            continue
        key = key_node.value
        seen.append(key)
        trailing = comments.get(value_node.end_lineno or key_node.lineno)
        block, blank = comment_block_above(lines, comments, key_node.lineno, previous_end)
        previous_end = value_node.end_lineno or key_node.lineno
        if trailing and not trailing[1]:
            groups.append(SettingGroup(trailing[0], [key]))
            current = None
        elif block:
            current = SettingGroup(" ".join(block), [key])
            groups.append(current)
        elif current is not None and not blank and related_keys(current.keys[0], key):
            current.keys.append(key)
        else:
            logger.warning(
                "FASTPIX[%r] has no comment of its own in conf.py: the settings reference "
                "takes each key's meaning from the comment above it (a key directly below "
                "another shares its comment only when their names share a first or last word, "
                "as CONNECT_TIMEOUT and READ_TIMEOUT do).",
                key,
                location=f"{path}:{key_node.lineno}",
            )
            current = SettingGroup("", [key])
            groups.append(current)
    missing = sorted(set(conf.DEFAULTS) - set(seen))
    if missing:
        logger.warning(
            "conf.DEFAULTS has keys not written in its dict literal (added at runtime?): %s",
            ", ".join(missing),
            location=str(path),
        )
    return groups


def related_keys(first: str, other: str) -> bool:
    """Whether ``other`` may share ``first``'s comment: a common first or last name word."""
    a, b = first.split("_"), other.split("_")
    return a[0] == b[0] or a[-1] == b[-1]


def _defaults_dict(tree: ast.Module, path: Path) -> ast.Dict:
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value  # type: ignore[assignment]
        else:
            continue
        named = any(isinstance(t, ast.Name) and t.id == "DEFAULTS" for t in targets)
        if named and isinstance(value, ast.Dict):
            return value
    raise RuntimeError(f"{path}: no `DEFAULTS = {{...}}` dict literal to document")


class SettingsDirective(SphinxDirective):
    """``.. fastpix-settings::``: the reference of every FASTPIX key."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        conf = importlib.import_module("django_fastpix.conf")
        self.env.note_dependency(inspect.getsourcefile(conf) or "")
        text: list[str] = []
        for group in setting_groups():
            text.append(".. setting:: " + group.keys[0])
            text.extend("             " + key for key in group.keys[1:])
            text.append("")
            if group.description:
                text.append("   " + rst_text(group.description))
                text.append("")
            defaults = [(key, literal(repr(conf.DEFAULTS[key]))) for key in group.keys]
            if len(defaults) == 1:
                text.append(f"   :Default: {defaults[0][1]}")
            else:
                text.append("   :Defaults: " + ", ".join(f"{literal(k)}: {v}" for k, v in defaults))
            text.append("")
        return self.parse_lines(text)

    def parse_lines(self, text: list[str]) -> list[nodes.Node]:
        # Generated from code whose files may come and go (a new command module, a new tag
        # library): the page is read again on every build rather than tracking each file.
        generated_pages(self.env).add(self.env.docname)
        container = nodes.container()
        source = f"<generated by {self.name}>"
        nested_parse_with_titles(self.state, StringList(text, source=source), container)
        return list(container.children)


# --- signals ----------------------------------------------------------------------------------


class SignalsDirective(SettingsDirective):
    """``.. fastpix-signals::``: each signal of django_fastpix.signals with its comment."""

    def run(self) -> list[nodes.Node]:
        module = importlib.import_module("django_fastpix.signals")
        path = Path(inspect.getsourcefile(module) or "")
        self.env.note_dependency(str(path))
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        comments = comments_by_line(source)
        text = [".. py:currentmodule:: django_fastpix.signals", ""]
        previous_end = 0
        for node in ast.parse(source).body:
            if not (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Call)
                and getattr(node.value.func, "id", getattr(node.value.func, "attr", "")) == "Signal"
            ):
                previous_end = node.end_lineno or node.lineno
                continue
            name = node.targets[0].id  # type: ignore[attr-defined]
            block, _ = comment_block_above(lines, comments, node.lineno, previous_end)
            previous_end = node.end_lineno or node.lineno
            if not block:
                logger.warning(
                    "signal %s has no comment in signals.py (what it means, its arguments)",
                    name,
                    location=f"{path}:{node.lineno}",
                )
                block = []
            meaning = [b for b in block if not b.startswith("Arguments:")]
            arguments = [b.removeprefix("Arguments:").strip() for b in block if b not in meaning]
            text += [f".. py:data:: {name}", "   :type: django.dispatch.Signal", ""]
            if meaning:
                text += ["   " + rst_text(" ".join(meaning)), ""]
            if arguments:
                text += ["   :Arguments: " + rst_text(" ".join(arguments)), ""]
        return self.parse_lines(text)


# --- management commands ---------------------------------------------------------------------


class CommandsDirective(SettingsDirective):
    """``.. fastpix-commands::``: every command of the app, from its own parser."""

    def run(self) -> list[nodes.Node]:
        from django.core.management import find_commands, load_command_class

        package = importlib.import_module("django_fastpix.management")
        directory = Path(package.__file__ or "").parent
        old_columns = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = USAGE_WIDTH
        text: list[str] = []
        try:
            for name in sorted(find_commands(str(directory))):
                self.env.note_dependency(str(directory / "commands" / f"{name}.py"))
                command = load_command_class("django_fastpix", name)
                parser = command.create_parser("manage.py", name)
                text += self.command_text(name, parser, str(command.help or ""), "=")
        finally:
            if old_columns is None:
                os.environ.pop("COLUMNS", None)
            else:
                os.environ["COLUMNS"] = old_columns
        return self.parse_lines(text)

    def command_text(
        self, title: str, parser: argparse.ArgumentParser, help_text: str, underline: str
    ) -> list[str]:
        for action in parser._actions:
            if action.dest in DJANGO_COMMON_DESTS:
                action.help = argparse.SUPPRESS  # out of the usage line; listed once on the page
        text = [title, underline * len(title), ""]
        if help_text:
            text += [rst_text(help_text), ""]
        usage = parser.format_usage().strip().removeprefix("usage: ")
        text += ["::", "", *("   " + line for line in usage.splitlines()), ""]
        formatter = parser._get_formatter()
        subparsers: list[argparse._SubParsersAction[Any]] = []
        arguments: list[str] = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                subparsers.append(action)
                continue
            if action.help == argparse.SUPPRESS:
                continue
            invocation = formatter._format_action_invocation(action)
            required = " (required)" if action.required and action.option_strings else ""
            help_line = formatter._expand_help(action) if action.help else ""
            if _shows_default(action) and "default" not in help_line:
                help_line = f"{help_line} (default: {action.default})".strip()
            arguments += [literal(invocation) + required, "   " + (rst_text(help_line) or "\\"), ""]
        if arguments:
            text += [".. rubric:: Arguments", "", *arguments]
        for group in parser._mutually_exclusive_groups:
            shown = [a for a in group._group_actions if a.help != argparse.SUPPRESS]
            if len(shown) > 1:
                names = ", ".join(literal(a.option_strings[0]) for a in shown if a.option_strings)
                text += [("One of " if group.required else "At most one of ") + names + ".", ""]
        for sub in subparsers:
            helps = {a.dest: a.help or "" for a in sub._choices_actions}
            for name, subparser in sub.choices.items():
                text += self.command_text(f"{title} {name}", subparser, helps.get(name, ""), "-")
        return text


def _shows_default(action: argparse.Action) -> bool:
    """Whether the default is worth printing (not None, False, an empty list, SUPPRESS)."""
    default = action.default
    return default not in (None, False, argparse.SUPPRESS) and default != [] and action.nargs != 0


# --- template tags ----------------------------------------------------------------------------


class TemplateTagsDirective(SettingsDirective):
    """``.. fastpix-templatetags::``: each tag and filter of the app's tag libraries."""

    def run(self) -> list[nodes.Node]:
        try:
            package = importlib.import_module("django_fastpix.templatetags")
        except ModuleNotFoundError:
            return self.parse_lines(["The app ships no template tags yet.", ""])
        text: list[str] = []
        directory = Path(package.__file__ or "").parent
        for path in sorted(directory.glob("[!_]*.py")):
            self.env.note_dependency(str(path))
            library = importlib.import_module(f"{package.__name__}.{path.stem}")
            register = getattr(library, "register", None)
            if register is None:
                continue
            title = f"{{% load {path.stem} %}}"
            text += [title, "-" * len(title), ""]
            if library.__doc__:
                text += [*inspect.cleandoc(library.__doc__).splitlines(), ""]
            for kind, items in (("tag", register.tags), ("filter", register.filters)):
                for name, func in sorted(items.items()):
                    heading = f"{name} ({kind})"
                    text += [heading, "~" * len(heading), ""]
                    target = getattr(func, "__wrapped__", func)
                    doc = inspect.getdoc(target)
                    if not doc:
                        logger.warning("template %s %r has no docstring", kind, name)
                    text += [*(doc or "").splitlines(), ""]
        if not text:
            text = ["The app ships no template tags yet.", ""]
        return self.parse_lines(text)


# --- encrypted columns ------------------------------------------------------------------------


class EncryptedFieldsDirective(SettingsDirective):
    """``.. fastpix-encrypted-fields::``: every encrypted column of the app, by model."""

    def run(self) -> list[nodes.Node]:
        from django_fastpix.services.encryption import encrypted_models

        text: list[str] = []
        for model, names in encrypted_models():
            comments = class_body_comments(model)
            text.append(f"* :class:`~{model.__module__}.{model.__qualname__}`:")
            for name in names:
                f = model._meta.get_field(name)
                meaning = str(f.help_text) or comments.get(name, "")
                text.append(f"  ``{name}``" + (f" ({rst_text(meaning)})" if meaning else "") + ";")
            text[-1] = text[-1].removesuffix(";") + "."
        text.append("")
        return self.parse_lines(text)


# --- system checks ----------------------------------------------------------------------------


def check_ids_in_code() -> dict[str, str]:
    """Every check id quoted in the app's source -> the first file that quotes it."""
    package = importlib.import_module("django_fastpix")
    root = Path(package.__file__ or "").parent
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for match in CHECK_ID_IN_CODE.finditer(path.read_text(encoding="utf-8")):
            found.setdefault(match.group(1), str(path.relative_to(root.parent)))
    return found


def check_consistency(app: Sphinx, env: BuildEnvironment) -> None:
    """Fail the build when the checks page and the code disagree about the check ids."""
    std = env.get_domain("std")
    documented = {
        name: docname for (kind, name), (docname, _) in std.objects.items() if kind == "check"
    }
    in_code = check_ids_in_code()
    for check_id in sorted(set(in_code) - set(documented)):
        logger.warning(
            "system check %s (in %s) is not documented: add `.. check:: %s` to the checks page",
            check_id,
            in_code[check_id],
            check_id,
        )
    for check_id in sorted(set(documented) - set(in_code)):
        logger.warning(
            "%s is documented but no longer in django_fastpix/",
            check_id,
            location=documented[check_id],
        )


# --- models -----------------------------------------------------------------------------------


def is_model(obj: Any) -> bool:
    from django.db import models

    return inspect.isclass(obj) and issubclass(obj, models.Model)


def class_body_comments(cls: type) -> dict[str, str]:
    """Attribute name -> the whole-line comments directly above its assignment in ``cls``."""
    try:
        lines, _ = inspect.getsourcelines(cls)
    except (OSError, TypeError):
        return {}
    source = textwrap.dedent("".join(lines))
    comments = comments_by_line(source)
    tree = ast.parse(source)
    found: dict[str, str] = {}
    class_node = tree.body[0]
    previous_end = class_node.lineno
    for node in getattr(class_node, "body", []):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            block, _ = comment_block_above(source.splitlines(), comments, node.lineno, previous_end)
            if block:
                found[node.targets[0].id] = " ".join(block)
        previous_end = node.end_lineno or node.lineno
    return found


def model_fields_docstring(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """Append a model's fields (type, help text, comment) or a Choices' values to its autodoc.

    A field's meaning is its help text, else the comment above it in the model's source.
    """
    from django.db import models

    if what != "class" or not inspect.isclass(obj):
        return
    if issubclass(obj, models.Choices):
        lines += ["", ".. rubric:: Values", ""]
        lines += [f"* {literal(repr(m.value))}: {rst_text(str(m.label))}" for m in obj]
        lines.append("")
        return
    if not is_model(obj) or obj._meta.abstract:
        return
    comments = class_body_comments(obj)
    lines += ["", ".. rubric:: Fields", ""]
    for f in obj._meta.get_fields():
        if not getattr(f, "concrete", False) or f.auto_created:
            continue
        kind = type(f).__name__
        if isinstance(f, models.ForeignKey):
            kind += f" to {f.related_model.__name__}"  # type: ignore[union-attr]
        verbose = str(f.verbose_name)
        if verbose != f.name.replace("_", " "):
            kind += f', "{verbose}"'
        notes = []
        if f.help_text:
            notes.append(str(f.help_text))
        elif f.name in comments:
            notes.append(comments[f.name])
        if f.choices:
            notes.append("One of " + ", ".join(str(v) for v, _ in f.flatchoices) + ".")
        line = f"* {literal(f.name)} ({rst_text(kind)})"
        if notes:
            line += ": " + rst_text(" ".join(notes))
        lines.append(line)
    lines.append("")


def model_signature(
    app: Sphinx,
    what: str,
    name: str,
    obj: Any,
    options: Any,
    signature: str | None,
    return_annotation: str | None,
) -> tuple[str, str | None] | None:
    """A model's ``(*args, **kwargs)`` says nothing (its fields are listed instead); ParamSpec
    arguments are written as in the code."""
    if what == "class" and is_model(obj):
        return "", return_annotation
    if signature and "~typing.~" in signature:
        # Sphinx renders ``*args: P.args`` as ``~typing.~P``, which its own parser then
        # rejects, printing the whole signature as raw text: write what the code says.
        signature = re.sub(r"(?<!\*)\*(\w+): ~typing\.~(\w+)", r"*\1: \2.args", signature)
        signature = re.sub(r"\*\*(\w+): ~typing\.~(\w+)", r"**\1: \2.kwargs", signature)
        return signature, return_annotation
    return None


def scope_docstring(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """Append the token scope a client method declares with ``@requires``."""
    if what not in ("method", "function"):
        return
    from django_fastpix.scopes import Scope

    scope = getattr(obj, "required_scope", None)
    if isinstance(scope, Scope):
        lines += ["", f":Token scope: {literal(scope.value)} ({rst_text(str(scope.label))})", ""]


def skip_model_internals(
    app: Sphinx, what: str, name: str, obj: Any, skip: bool, options: Any
) -> bool | None:
    """Leave Django's generated attributes (field descriptors, managers, DoesNotExist) out."""
    module = getattr(type(obj), "__module__", "") or ""
    if module.startswith("django.db.models") and not inspect.isfunction(obj):
        return True
    if name in ("DoesNotExist", "MultipleObjectsReturned", "objects"):
        return True
    return None


# --- pages that are generated: always read again ---------------------------------------------


def generated_pages(env: BuildEnvironment) -> set[str]:
    """The docnames whose content a directive of this extension generated."""
    if not hasattr(env, "fastpix_generated_pages"):
        env.fastpix_generated_pages = set()  # type: ignore[attr-defined]
    return env.fastpix_generated_pages  # type: ignore[attr-defined,no-any-return]


def outdated_generated_pages(
    app: Sphinx, env: BuildEnvironment, added: set[str], changed: set[str], removed: set[str]
) -> list[str]:
    return sorted(generated_pages(env) - removed)


def purge_generated_page(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    generated_pages(env).discard(docname)


def merge_generated_pages(
    app: Sphinx, env: BuildEnvironment, docnames: set[str], other: BuildEnvironment
) -> None:
    generated_pages(env).update(generated_pages(other) & docnames)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_object_type(
        "setting", "setting", indextemplate="pair: %s; FASTPIX setting", objname="FASTPIX setting"
    )
    app.add_object_type(
        "check", "check", indextemplate="pair: %s; system check", objname="system check"
    )
    app.add_directive("fastpix-settings", SettingsDirective)
    app.add_directive("fastpix-signals", SignalsDirective)
    app.add_directive("fastpix-commands", CommandsDirective)
    app.add_directive("fastpix-encrypted-fields", EncryptedFieldsDirective)
    app.add_directive("fastpix-templatetags", TemplateTagsDirective)
    app.connect("env-check-consistency", check_consistency)
    app.connect("env-get-outdated", outdated_generated_pages)
    app.connect("env-purge-doc", purge_generated_page)
    app.connect("env-merge-info", merge_generated_pages)
    app.connect("autodoc-process-docstring", model_fields_docstring)
    app.connect("autodoc-process-docstring", scope_docstring)
    app.connect("autodoc-process-signature", model_signature)
    app.connect("autodoc-skip-member", skip_model_internals)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
