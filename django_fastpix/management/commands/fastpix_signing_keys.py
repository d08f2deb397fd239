"""fastpix_signing_keys: create, list, rotate, revoke and prune playback signing keys.

Output shows key ids (public: they travel in every playback token's header), statuses and
dates; a private key is never printed, in text or JSON.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandError

from ...exceptions import FastPixError
from ...models import AccessToken, SigningKey, SigningKeyStatus, Workspace
from ...scopes import Area, Scope
from ...services.signing_keys import (
    create_signing_key,
    delete_pending_keys,
    revoke_signing_key,
    rotate_signing_key,
)
from ...services.verify import permission_hint
from ..base import SubcommandCommand, cli_actor

PRUNE = "`manage.py fastpix_signing_keys prune`"


class Command(SubcommandCommand):
    help = (
        "Manage FastPix playback signing keys (private playback). Creating, rotating and "
        "revoking need a stored token granted System read and write "
        "(`fastpix_token permissions ID --system read_write`). Private keys are never shown."
    )

    def add_subcommands(self, sub: argparse._SubParsersAction[Any]) -> None:
        create = sub.add_parser(
            "create", help="Have FastPix create a key for a workspace; it signs at once."
        )
        create.add_argument("--workspace", required=True, help="Workspace slug.")

        lst = sub.add_parser("list", help="List keys: ids, statuses and dates (never the key).")
        lst.add_argument("--workspace", help="Only this workspace (slug).")
        lst.add_argument(
            "--status", choices=[s.value for s in SigningKeyStatus], help="Only this status."
        )

        rotate = sub.add_parser(
            "rotate",
            help="A new key signs from now on; the old ones stay valid in FastPix until the "
            "tokens they signed expire, then `prune` deletes them.",
        )
        rotate.add_argument("--workspace", required=True, help="Workspace slug.")

        revoke = sub.add_parser(
            "revoke",
            help="After a leak: the key signs nothing from now on and is deleted in FastPix at "
            "once (every token it signed stops playing). Irreversible.",
        )
        revoke.add_argument("key_id", metavar="KEY_ID", help="The FastPix key id (see `list`).")
        revoke.add_argument("--reason", required=True, help="Why (recorded on the key).")
        revoke.add_argument(
            "--workspace", help="Workspace slug, if two workspaces hold the same key id."
        )

        sub.add_parser(
            "prune",
            help="Delete in FastPix every revoked key and every retiring key past its overlap "
            "(run it regularly, e.g. hourly).",
        )

    # --- sub-commands ---

    def handle_create(self, **options: Any) -> None:
        workspace = self.workspace(options["workspace"])
        key = self._call(create_signing_key, workspace, by=cli_actor())
        self._report(
            options,
            _as_dict(key),
            f"Created signing key {key.fastpix_id} for workspace {workspace.slug!r}: it signs "
            "private playback from now on.",
        )

    def handle_list(self, **options: Any) -> None:
        keys = SigningKey.objects.defer("private_key").select_related("workspace")
        keys = keys.order_by("workspace__slug", "-created_at", "-pk")
        if options.get("workspace"):
            keys = keys.filter(workspace=self.workspace(options["workspace"]))
        if options.get("status"):
            keys = keys.filter(status=options["status"])
        rows = [_as_dict(key) for key in keys]
        if options["json"]:
            self.write_json(rows)
            return
        if not rows:
            self.stdout.write("No signing keys.")
            return
        self.stdout.write(
            f"{'WORKSPACE':<16} {'KEY ID':<36} {'STATUS':<9} {'CREATED':<20} "
            f"{'EXPIRES':<20} DELETED IN FASTPIX"
        )
        for r in rows:
            self.stdout.write(
                f"{r['workspace']:<16} {r['fastpix_id']:<36} {r['status']:<9} "
                f"{_short(r['created_at']):<20} {_short(r['expires_at']):<20} "
                f"{_short(r['deleted_in_fastpix_at'])}"
            )

    def handle_rotate(self, **options: Any) -> None:
        workspace = self.workspace(options["workspace"])
        was_active = list(SigningKey.objects.signing(workspace).values_list("pk", flat=True))
        new_key = self._call(rotate_signing_key, workspace, by=cli_actor())
        retiring = list(
            SigningKey.objects.defer("private_key")
            .select_related("workspace")
            .filter(pk__in=was_active, status=SigningKeyStatus.RETIRING)
        )
        text = f"Rotated workspace {workspace.slug!r}: {new_key.fastpix_id} signs new tokens."
        for key in retiring:
            text += (
                f"\n{key.fastpix_id} is retiring: valid in FastPix until "
                f"{_short(_iso(key.expires_at))}, then {PRUNE} deletes it."
            )
        self._report(
            options, {"new": _as_dict(new_key), "retiring": [_as_dict(k) for k in retiring]}, text
        )

    def handle_revoke(self, **options: Any) -> None:
        key = self._key(options["key_id"], options.get("workspace"))
        if key.status == SigningKeyStatus.REVOKED and key.deleted_in_fastpix_at:
            self._report(
                options, _as_dict(key), f"{key.fastpix_id} was already revoked and deleted."
            )
            return
        key = self._call(revoke_signing_key, key, by=cli_actor(), reason=options["reason"])
        if key.deleted_in_fastpix_at:
            self._report(
                options,
                _as_dict(key),
                f"Revoked {key.fastpix_id} of workspace {key.workspace.slug!r}: it signs nothing "
                "from now on and was deleted in FastPix.",
            )
            return
        if options["json"]:
            self.write_json(_as_dict(key), indent=None)
        # Revoked here, but FastPix still accepts tokens signed with it: not a success.
        raise CommandError(
            f"Revoked {key.fastpix_id} here (it signs nothing from now on), but FastPix could not "
            "delete it, so it still accepts tokens signed with it (the log has FastPix's "
            f"answer). {_system_token_hint(key.workspace)}Retry with {PRUNE}."
        )

    def handle_prune(self, **options: Any) -> None:
        deleted, failed = delete_pending_keys()
        text = f"Deleted {deleted} signing key(s) in FastPix."
        self._report(options, {"deleted": deleted, "failed": failed}, text)
        if failed:
            raise CommandError(
                f"{failed} signing key(s) could not be deleted in FastPix (the log has FastPix's "
                f"answer); {PRUNE} tries again."
            )

    # --- helpers ---

    def _call(self, service: Callable[..., SigningKey], *args: Any, **kwargs: Any) -> SigningKey:
        """Run a signing-key service; its failure becomes one line saying what to do."""
        try:
            return service(*args, **kwargs)
        except FastPixError as exc:
            raise CommandError(f"{exc} {permission_hint(exc)}".strip()) from None

    def _key(self, key_id: str, workspace_slug: str | None) -> SigningKey:
        keys = SigningKey.objects.defer("private_key").select_related("workspace")
        keys = keys.filter(fastpix_id=key_id)
        if workspace_slug:
            keys = keys.filter(workspace=self.workspace(workspace_slug))
        found = list(keys[:2])
        if not found:
            raise CommandError(f"No signing key {key_id!r} (see `fastpix_signing_keys list`).")
        if len(found) > 1:
            raise CommandError(
                f"Several workspaces hold a signing key {key_id!r}: add --workspace SLUG."
            )
        return found[0]

    def _report(self, options: dict[str, Any], data: Any, text: str) -> None:
        if options.get("json"):
            self.write_json(data, indent=None)
        else:
            self.stdout.write(self.style.SUCCESS(text))


def _system_token_hint(workspace: Workspace) -> str:
    if AccessToken.objects.usable_for(workspace, Scope.READ_WRITE, Area.SYSTEM).exists():
        return ""
    return (
        f"No active token of workspace {workspace.slug!r} is recorded with System read and "
        "write: record it on a token granted it (`fastpix_token permissions ID --system "
        "read_write`). "
    )


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def _short(iso: str | None) -> str:
    """An ISO date cut to the minute for a table ("-" if none)."""
    return iso[:16].replace("T", " ") if iso else "-"


def _as_dict(key: SigningKey) -> dict[str, Any]:
    # Built field by field: a new model field is never printed until it is listed here.
    return {
        "id": key.pk,
        "workspace": key.workspace.slug,
        "fastpix_id": key.fastpix_id,
        "status": key.status,
        "status_reason": key.status_reason,
        "status_changed_at": _iso(key.status_changed_at),
        "status_changed_by": key.status_changed_by,
        "created_at": _iso(key.created_at),
        "created_by": key.created_by,
        "expires_at": _iso(key.expires_at),
        "deleted_in_fastpix_at": _iso(key.deleted_in_fastpix_at),
    }
