"""demo: show the token store at work in the example site."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection

from django_fastpix.models import AccessToken, Workspace
from django_fastpix.services.tokens import add_token, revoke_token


class Command(BaseCommand):
    help = "Walk through the FastPix token store: add, list, see ciphertext, revoke, rotate."

    def handle(self, *args: Any, **options: Any) -> None:
        say = self.stdout.write
        workspace, _ = Workspace.objects.get_or_create(
            slug="demo", defaults={"name": "Demo", "environment": "development"}
        )
        token_id = f"demo-{secrets.token_hex(8)}"
        secret = secrets.token_urlsafe(24)
        token = add_token(
            workspace=workspace,
            name=f"demo {token_id[-4:]}",
            token_id=token_id,
            secret_key=secret,
            scope="read_write",
        )
        say(self.style.MIGRATE_HEADING("1. Added a token (the secret is never printed again):"))
        say(f"   {token!r}")
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT secret_key FROM {AccessToken._meta.db_table} WHERE id = %s", [token.pk]
            )
            raw = cursor.fetchone()[0]
        say(self.style.MIGRATE_HEADING("2. What the database holds for its secret key:"))
        say(f"   {raw[:60]}… ({len(raw)} chars of Fernet ciphertext)")
        say(self.style.MIGRATE_HEADING("3. fastpix_token list:"))
        call_command("fastpix_token", "list", "--workspace", "demo", stdout=self.stdout)
        say(self.style.MIGRATE_HEADING("4. Usable read tokens for the workspace:"))
        for usable in AccessToken.objects.usable_for(workspace, "read"):
            say(f"   {usable}")
        revoke_token(token, reason="demo: pretend it leaked", by="demo")
        say(self.style.MIGRATE_HEADING("5. Revoked it; usable tokens now:"))
        say(f"   {AccessToken.objects.usable_for(workspace, 'read').count()} besides revoked ones")
        say(self.style.MIGRATE_HEADING("6. fastpix_rotate_keys (re-encrypt under the first key):"))
        call_command("fastpix_rotate_keys", stdout=self.stdout)
        say(self.style.SUCCESS("Done. Open the admin with `manage.py runserver` to look around."))
