"""fastpix_workspace: create and list workspaces, set a webhook secret, show the webhook URL."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.db.models.functions import Length
from django.views.decorators.debug import sensitive_variables

from ...checks import webhook_path
from ...conf import fastpix_settings
from ...models import Environment, TokenStatus, Workspace
from ...services.webhooks import rotate_webhook_secret
from ..base import SubcommandCommand, env_from_file

ENV_WEBHOOK_SECRET = "FASTPIX_WEBHOOK_SECRET"
NO_ROUTE = (
    "The webhook URL cannot be built: the site's URLconf does not include django_fastpix.urls "
    '(add path("fastpix/", include("django_fastpix.urls")) to urls.py; check fastpix.W004).'
)


class Command(SubcommandCommand):
    help = (
        "Manage FastPix workspaces from a shell: create, list, show, set the webhook signing "
        "secret (from a prompt, standard input, a .env file or the environment, never the "
        "command line) and print the webhook URL to paste into FastPix."
    )

    def add_subcommands(self, sub: argparse._SubParsersAction[Any]) -> None:
        create = sub.add_parser("create", help="Create a workspace.")
        create.add_argument("slug", help="Its slug: the last part of its webhook URL.")
        create.add_argument("--name", help="A name operators will recognise (default: the slug).")
        create.add_argument(
            "--environment",
            choices=Environment.values,
            default=Environment.DEVELOPMENT.value,
            help="The FastPix workspace type (default development).",
        )
        create.add_argument(
            "--fastpix-id", default="", help="The id FastPix shows for the workspace (optional)."
        )

        lst = sub.add_parser("list", help="List workspaces with token counts (never secrets).")
        _add_base_url(lst)

        show = sub.add_parser("show", help="One workspace: tokens, webhook secret, webhook URL.")
        show.add_argument("slug", help="Workspace slug.")
        _add_base_url(show)

        secret = sub.add_parser(
            "set-webhook-secret",
            help="Set (or rotate) the webhook signing secret FastPix shows for this workspace's "
            "webhook; after a rotation the previous one stays accepted for "
            "WEBHOOK_PREVIOUS_SECRET_WINDOW seconds.",
        )
        secret.add_argument("slug", help="Workspace slug.")
        source = secret.add_mutually_exclusive_group()
        source.add_argument(
            "--stdin", action="store_true", help="Read the secret as one line of standard input."
        )
        source.add_argument(
            "--env-file", type=Path, help=f"Read {ENV_WEBHOOK_SECRET} from this .env file."
        )
        source.add_argument(
            "--from-env",
            action="store_true",
            help=f"Read {ENV_WEBHOOK_SECRET} from the environment.",
        )

        url = sub.add_parser(
            "webhook-url", help="Print the URL to paste into FastPix's webhook settings."
        )
        url.add_argument("slug", help="Workspace slug.")
        _add_base_url(url)

    # --- sub-commands ---

    def handle_create(self, **options: Any) -> None:
        slug = options["slug"]
        workspace = Workspace(
            slug=slug,
            name=options["name"] or slug,
            environment=options["environment"],
            fastpix_workspace_id=options["fastpix_id"],
        )
        try:
            workspace.full_clean()
        except ValidationError as exc:
            raise CommandError(_one_line(exc)) from None
        try:
            with transaction.atomic():
                workspace.save()
        except IntegrityError:  # created meanwhile by another process
            raise CommandError(f"Workspace {slug!r} already exists.") from None
        if options["json"]:
            self.write_json(self._as_dict(self._annotated(slug), options))
            return
        self.stdout.write(self.style.SUCCESS(f"Created workspace {slug}: {workspace}."))
        self.stdout.write(
            "Next: store its webhook secret (`fastpix_workspace set-webhook-secret "
            f"{slug}`), paste its webhook URL (`fastpix_workspace webhook-url {slug}`) into "
            f"FastPix, and add a token (`fastpix_token add --workspace {slug} --name NAME`)."
        )

    def handle_list(self, **options: Any) -> None:
        rows = [self._as_dict(w, options) for w in self._annotated_all().order_by("slug")]
        if options["json"]:
            self.write_json(rows)
            return
        if not rows:
            self.stdout.write("No workspaces: `fastpix_workspace create SLUG` makes one.")
            return
        self.stdout.write(
            f"{'SLUG':<16} {'ENVIRONMENT':<12} {'TOKENS a/i/r':<13} {'SECRET':<7} NAME"
        )
        for r in rows:
            counts = f"{r['active_tokens']}/{r['invalid_tokens']}/{r['revoked_tokens']}"
            secret = "set" if r["webhook_secret_set"] else "-"
            self.stdout.write(
                f"{r['slug']:<16} {r['environment']:<12} {counts:<13} {secret:<7} {r['name']}"
            )

    def handle_show(self, **options: Any) -> None:
        data = self._as_dict(self._annotated(options["slug"]), options)
        if options["json"]:
            self.write_json(data)
            return
        self.stdout.write(f"Workspace {data['slug']}: {data['name']} ({data['environment']})")
        if data["fastpix_workspace_id"]:
            self.stdout.write(f"  FastPix id: {data['fastpix_workspace_id']}")
        self.stdout.write(
            f"  tokens: {data['active_tokens']} active, {data['invalid_tokens']} invalid, "
            f"{data['revoked_tokens']} revoked"
        )
        if data["webhook_secret_set"]:
            rotated = data["webhook_secret_rotated_at"]
            self.stdout.write("  webhook secret: set" + (f", rotated {rotated}" if rotated else ""))
        else:
            self.stdout.write(
                self.style.WARNING(
                    f"  webhook secret: none (`fastpix_workspace set-webhook-secret "
                    f"{data['slug']}`): deliveries are refused"
                )
            )
        if data["webhook_url"]:
            self.stdout.write(f"  webhook URL: {data['webhook_url']}")
        elif data["webhook_path"]:
            self.stdout.write(
                f"  webhook path: {data['webhook_path']} (give --base-url for the whole URL)"
            )
        else:
            self.stdout.write(self.style.WARNING(f"  webhook URL: none. {NO_ROUTE}"))

    @sensitive_variables()
    def handle_set_webhook_secret(self, **options: Any) -> None:
        workspace = self.workspace(options["slug"])
        had_secret = bool(_secret_length(workspace))
        try:
            rotate_webhook_secret(workspace, self._read_secret(options))
        except ValueError:
            # rotate_webhook_secret's message names no character of the value.
            raise CommandError(
                "That is not base64: give the signing secret exactly as FastPix shows it."
            ) from None
        if options["json"]:
            self.write_json(self._as_dict(self._annotated(workspace.slug), options))
            return
        if had_secret:
            window = int(fastpix_settings.WEBHOOK_PREVIOUS_SECRET_WINDOW)
            text = (
                f"Rotated the webhook secret of {workspace.slug}: the previous one stays "
                f"accepted for {window} s."
            )
        else:
            text = f"Set the webhook secret of {workspace.slug}."
        self.stdout.write(self.style.SUCCESS(text))

    def handle_webhook_url(self, **options: Any) -> None:
        workspace = self.workspace(options["slug"])
        path = webhook_path(workspace.slug)
        if path is None:
            raise CommandError(NO_ROUTE)
        base = _base_url(options)
        if base is None:
            raise CommandError(
                f"The webhook path is {path}; give --base-url https://your.site (the address "
                "FastPix reaches this site at) for the whole URL, or install "
                "django.contrib.sites with the site's domain."
            )
        url = base + path
        if options["json"]:
            self.write_json({"workspace": workspace.slug, "webhook_url": url}, indent=None)
        else:
            self.stdout.write(url)

    # --- helpers ---

    def _annotated_all(self) -> Any:
        # Counts and "is a secret set" in one query, without decrypting any secret.
        return Workspace.objects.defer("webhook_secret", "previous_webhook_secret").annotate(
            active_count=Count("tokens", filter=Q(tokens__status=TokenStatus.ACTIVE)),
            invalid_count=Count("tokens", filter=Q(tokens__status=TokenStatus.INVALID)),
            revoked_count=Count("tokens", filter=Q(tokens__status=TokenStatus.REVOKED)),
            webhook_secret_length=Length("webhook_secret"),
        )

    def _annotated(self, slug: str) -> Any:
        found = self._annotated_all().filter(slug=slug).first()
        if found is None:
            self.workspace(slug)  # raises, listing the slugs there are
        return found

    def _as_dict(self, workspace: Any, options: dict[str, Any]) -> dict[str, Any]:
        path = webhook_path(workspace.slug)
        base = _base_url(options)
        rotated = workspace.webhook_secret_rotated_at
        return {
            "id": workspace.pk,
            "slug": workspace.slug,
            "name": workspace.name,
            "environment": workspace.environment,
            "fastpix_workspace_id": workspace.fastpix_workspace_id,
            "active_tokens": workspace.active_count,
            "invalid_tokens": workspace.invalid_count,
            "revoked_tokens": workspace.revoked_count,
            "webhook_secret_set": bool(workspace.webhook_secret_length),
            "webhook_secret_rotated_at": rotated.isoformat() if rotated else None,
            "webhook_path": path,
            "webhook_url": base + path if base and path else None,
        }

    @sensitive_variables()
    def _read_secret(self, options: dict[str, Any]) -> str:
        if options["stdin"]:
            try:
                text = sys.stdin.read()
            except UnicodeDecodeError:
                raise CommandError("Standard input is not UTF-8 text.") from None
            lines = [line.strip() for line in text.split("\n") if line.strip()]
            if len(lines) != 1:
                raise CommandError("--stdin expects one non-empty line: the webhook secret.")
            return lines[0]
        if options["env_file"] or options["from_env"]:
            env = env_from_file(options["env_file"]) if options["env_file"] else environ.Env()
            value = str(env.str(ENV_WEBHOOK_SECRET, default="")).strip()
            if not value:
                raise CommandError(f"Missing {ENV_WEBHOOK_SECRET} in the environment or .env file.")
            return value
        if not sys.stdin.isatty():
            raise CommandError("No terminal to prompt on: use --stdin, --env-file or --from-env.")
        value = getpass.getpass("FastPix webhook signing secret (not echoed): ").strip()
        if not value:
            raise CommandError("No secret given.")
        return value


def _add_base_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base-url",
        help="The address FastPix reaches this site at, e.g. https://www.example.com "
        "(default: the current django.contrib.sites Site, if installed).",
    )


def _base_url(options: dict[str, Any]) -> str | None:
    """The site's address without a trailing slash: --base-url, else the Sites framework."""
    given = options.get("base_url")
    if given:
        parts = urlsplit(given)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise CommandError(f"--base-url must be an http(s) URL, not {given!r}.")
        if parts.query or parts.fragment:
            raise CommandError("--base-url takes no query or fragment.")
        return given.rstrip("/")
    if not apps.is_installed("django.contrib.sites"):
        return None
    from django.contrib.sites.models import Site

    try:
        domain = Site.objects.get_current().domain
    except Exception:  # no SITE_ID, or no row yet: ask for --base-url instead
        return None
    if not domain or domain == "example.com":  # Django's placeholder, never the real site
        return None
    scheme = "http" if domain.split(":")[0] in ("localhost", "127.0.0.1") else "https"
    return f"{scheme}://{domain}"


def _secret_length(workspace: Workspace) -> int:
    # The ciphertext's length says whether a secret is set, without decrypting it.
    row = (
        Workspace.objects.filter(pk=workspace.pk)
        .annotate(length=Length("webhook_secret"))
        .values_list("length", flat=True)
        .first()
    )
    return int(row or 0)


def _one_line(exc: ValidationError) -> str:
    return " ".join(
        f"{field}: {' '.join(str(m) for m in messages)}"
        for field, messages in exc.message_dict.items()
    )
