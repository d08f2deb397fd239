"""fastpix_token: add, list, verify, revoke and invalidate FastPix access tokens from a shell,
and record the permissions (video, data, system) each was granted in the FastPix dashboard."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

import environ
from django.core.management.base import CommandError
from django.views.decorators.debug import sensitive_variables

from ...exceptions import TokenRevokedError
from ...models import AccessToken, TokenStatus
from ...scopes import AREA_FIELDS, Area, Scope
from ...services import tokens as token_services
from ...services.verify import NOT_PROBED, pair_problem, probe_area, verify_token
from ..base import SubcommandCommand, cli_actor, env_from_file

ENV_TOKEN_ID = "FASTPIX_TOKEN_ID"
ENV_SECRET_KEY = "FASTPIX_SECRET_KEY"


UNVERIFIED_HINT = "add --no-verify to store it now and verify it later (`fastpix_token verify`)"

LEVELS = [s.value for s in Scope]
# What a new token is taken to hold when no option says otherwise: video read and write,
# the only grant there was before areas (and what `--scope` alone always meant).
DEFAULT_GRANT = {Area.VIDEO: Scope.READ_WRITE, Area.DATA: Scope.NONE, Area.SYSTEM: Scope.NONE}
GRANTED_NOTHING = (
    "A token granted nothing in any area can make no call: give --video, --data or --system "
    "as the FastPix dashboard shows them (revoke a token that really has no permission left)."
)


class Command(SubcommandCommand):
    help = (
        "Manage FastPix access tokens. Secrets are read from a prompt, standard input, a .env "
        "file or the environment, never from the command line (it leaks into shell history)."
    )

    def add_subcommands(self, sub: argparse._SubParsersAction[Any]) -> None:
        add = sub.add_parser("add", help="Verify a token with FastPix, then store it (encrypted).")
        add.add_argument("--workspace", required=True, help="Workspace slug.")
        add.add_argument("--name", required=True, help="A name operators will recognise.")
        _add_permission_options(add, new=True)
        source = add.add_mutually_exclusive_group()
        source.add_argument(
            "--stdin",
            action="store_true",
            help="Read the token id and the secret key as two lines from standard input.",
        )
        source.add_argument(
            "--env-file",
            type=Path,
            help=f"Read {ENV_TOKEN_ID} and {ENV_SECRET_KEY} from this .env file.",
        )
        source.add_argument(
            "--from-env",
            action="store_true",
            help=f"Read {ENV_TOKEN_ID} and {ENV_SECRET_KEY} from the environment.",
        )
        _add_store_options(add)

        imp = sub.add_parser(
            "import",
            help=f"Store a token read from a .env file ({ENV_TOKEN_ID}, {ENV_SECRET_KEY}).",
        )
        imp.add_argument("--env-file", type=Path, required=True, help="The .env file to read.")
        imp.add_argument("--workspace", required=True, help="Workspace slug.")
        imp.add_argument("--name", required=True, help="A name operators will recognise.")
        _add_permission_options(imp, new=True)
        _add_store_options(imp)
        # `add --env-file` under another name: the same handler reads the same options.
        imp.set_defaults(stdin=False, from_env=False)

        lst = sub.add_parser("list", help="List tokens (hints only, never secrets).")
        lst.add_argument("--workspace", help="Only this workspace (slug).")

        verify = sub.add_parser(
            "verify", help="Ask FastPix whether tokens work; a success reactivates an invalid one."
        )
        verify.add_argument("token", type=int, nargs="*", help="Token primary keys.")
        verify.add_argument("--workspace", help="Verify every non-revoked token of a workspace.")

        perms = sub.add_parser(
            "permissions",
            help="Record the permissions a token was granted in the FastPix dashboard (after a "
            "change there); without options, show them.",
        )
        perms.add_argument("token", type=int, help="Token primary key (see `list`).")
        _add_permission_options(perms, new=False)

        for name, helptext in (
            ("revoke", "Revoke a token for good (after a leak). Irreversible."),
            ("invalidate", "Mark a token invalid; only a successful verify makes it active."),
        ):
            p = sub.add_parser(name, help=helptext)
            p.add_argument("token", type=int, help="Token primary key (see `list`).")
            p.add_argument("--reason", required=name == "revoke", default="", help="Why.")

    # --- sub-commands ---

    @sensitive_variables()
    def handle_add(self, **options: Any) -> None:
        workspace = self.workspace(options["workspace"])
        token_id, secret_key = token_services.clean_pair(*self._read_credentials(options))
        existing = token_services.existing_token(workspace, token_id)
        if existing is not None and (
            not options["replace"] or existing.status == TokenStatus.REVOKED
        ):
            # Before FastPix is asked: the answer would change nothing.
            raise CommandError(token_services.duplicate_message(existing))
        # A replaced token keeps what it was recorded with, unless an option says otherwise.
        grant = _grant(options, base=_grant_of(existing) if existing else DEFAULT_GRANT)
        if all(level == Scope.NONE for level in grant.values()):
            raise CommandError(GRANTED_NOTHING)
        area = probe_area(grant[Area.VIDEO], grant[Area.SYSTEM], grant[Area.DATA])
        # A Data-only token cannot be checked: it is stored unverified, and the output says so.
        verified = False
        if area is not None and not options["no_verify"]:
            problem = pair_problem(token_id, secret_key, unverified_hint=UNVERIFIED_HINT, area=area)
            if problem:
                raise CommandError(f"{problem} Nothing was stored.")
            verified = True
        if existing is not None:
            token = token_services.replace_secret_key(
                existing, secret_key, verified=verified, by=cli_actor()
            )
            if grant != _grant_of(token):
                token = self._record_grant(token, grant)
            text = f"Replaced the secret key of token #{token.pk} {token} ({token.status})."
        else:
            token = token_services.add_token(
                workspace=workspace,
                name=options["name"],
                token_id=token_id,
                secret_key=secret_key,
                scope=grant[Area.VIDEO],
                data_scope=grant[Area.DATA],
                system_scope=grant[Area.SYSTEM],
                verified=verified,
            )
            text = f"Added token #{token.pk} {token}, {token.permissions_label}."
        if verified:
            text += " FastPix accepted it."
        elif area is None:
            text += f" {NOT_PROBED}"
        else:
            text += f" Not verified: `fastpix_token verify {token.pk}` asks FastPix."
        if options["json"]:
            self.write_json(
                {
                    **_as_dict(token),
                    "verified": verified,
                    "verifiable": area is not None,
                    "replaced": existing is not None,
                },
                indent=None,
            )
        else:
            self.stdout.write(self.style.SUCCESS(text))

    def handle_import(self, **options: Any) -> None:
        self.handle_add(**options)

    def handle_list(self, **options: Any) -> None:
        tokens = AccessToken.objects.select_related("workspace").order_by("workspace__slug", "pk")
        if options.get("workspace"):
            tokens = tokens.filter(workspace=self.workspace(options["workspace"]))
        rows = [_as_dict(t) for t in tokens]
        if options["json"]:
            self.write_json(rows)
            return
        if not rows:
            self.stdout.write("No tokens.")
            return
        header = (
            f"{'ID':>4}  {'WORKSPACE':<16} {'NAME':<24} {'HINT':<6} "
            f"{'VIDEO':<10} {'DATA':<10} {'SYSTEM':<10} STATUS"
        )
        self.stdout.write(header)
        for r in rows:
            self.stdout.write(
                f"{r['id']:>4}  {r['workspace']:<16} {r['name']:<24} …{r['hint']:<5} "
                f"{r['video']:<10} {r['data']:<10} {r['system']:<10} {r['status']}"
            )

    def handle_verify(self, **options: Any) -> None:
        tokens = [self._token(pk) for pk in options["token"]]
        if options.get("workspace"):
            tokens += list(
                AccessToken.objects.select_related("workspace")
                .filter(workspace=self.workspace(options["workspace"]))
                .exclude(status=TokenStatus.REVOKED)
            )
        if not tokens:
            raise CommandError("Name tokens to verify, or --workspace.")
        results = [verify_token(token, by=cli_actor()) for token in tokens]
        if options["json"]:
            self.write_json(
                [
                    {
                        **_as_dict(r.token),
                        "ok": r.ok,
                        "verifiable": not r.unverifiable,
                        "detail": r.detail,
                    }
                    for r in results
                ],
                indent=None,
            )
        else:
            for r in results:
                style = self.style.SUCCESS if r.ok else self.style.ERROR
                style = self.style.WARNING if r.unverifiable else style
                self.stdout.write(style(f"{r.token}: {r.detail}"))
        # A token no request can check (Data only) is reported, not counted as a failure.
        failed = [r for r in results if not r.ok and not r.unverifiable]
        if failed:
            raise CommandError(f"{len(failed)} of {len(results)} token(s) failed verification.")

    def handle_permissions(self, **options: Any) -> None:
        token = self._token(options["token"])
        grant = _grant(options, base=_grant_of(token))
        if grant == _grant_of(token):
            text = f"Token #{token.pk} {token}: {token.permissions_label}."
            if any(options.get(area.value) for area in Area):
                text += " Unchanged."
            self._report(token, options, text)
            return
        if all(level == Scope.NONE for level in grant.values()):
            raise CommandError(GRANTED_NOTHING)
        token = self._record_grant(token, grant)
        self._report(
            token,
            options,
            f"Recorded for token #{token.pk} {token}: {token.permissions_label}. Nothing was "
            "changed in FastPix (permissions are granted in its dashboard).",
        )

    def handle_revoke(self, **options: Any) -> None:
        token = self._token(options["token"])
        moved = token_services.revoke_token(token, reason=options["reason"], by=cli_actor())
        self._report(
            token, options, f"Revoked {token}." if moved else f"{token} was already revoked."
        )

    def handle_invalidate(self, **options: Any) -> None:
        token = self._token(options["token"])
        moved = token_services.invalidate_token(token, reason=options["reason"], by=cli_actor())
        self._report(
            token,
            options,
            f"Marked {token} invalid." if moved else f"{token} is already {token.status}.",
        )

    # --- helpers ---

    def _report(self, token: AccessToken, options: dict[str, Any], text: str) -> None:
        if options.get("json"):
            self.write_json(_as_dict(token), indent=None)
        else:
            self.stdout.write(self.style.SUCCESS(text))

    def _record_grant(self, token: AccessToken, grant: dict[Area, Scope]) -> AccessToken:
        """Store ``grant`` as the token's recorded permissions; a revoked token stays as it is."""
        for area, level in grant.items():
            setattr(token, AREA_FIELDS[area], level)
        try:
            # Only these columns: a concurrent status change is not undone, and the model
            # refuses the save of a token revoked meanwhile (checked against the database).
            token.save(update_fields=list(AREA_FIELDS.values()))
        except TokenRevokedError:
            raise CommandError(
                f"Token #{token.pk} {token} is revoked; a revoked token is read-only and never "
                "used again. Add the new token instead (`fastpix_token add`)."
            ) from None
        return token

    def _token(self, pk: int) -> AccessToken:
        try:
            return AccessToken.objects.select_related("workspace").get(pk=pk)
        except AccessToken.DoesNotExist:
            raise CommandError(f"No token #{pk}.") from None

    @sensitive_variables()
    def _read_credentials(self, options: dict[str, Any]) -> tuple[str, str]:
        if options["stdin"]:
            return _read_stdin_pair()
        if options["env_file"] or options["from_env"]:
            env = env_from_file(options["env_file"]) if options["env_file"] else environ.Env()
            missing = [k for k in (ENV_TOKEN_ID, ENV_SECRET_KEY) if not env.str(k, default="")]
            if missing:
                raise CommandError(f"Missing {', '.join(missing)} in the environment or .env file.")
            return env.str(ENV_TOKEN_ID), env.str(ENV_SECRET_KEY)
        if not sys.stdin.isatty():
            raise CommandError("No terminal to prompt on: use --stdin, --env-file or --from-env.")
        token_id = input("FastPix token id: ")
        secret_key = getpass.getpass("FastPix secret key (not echoed): ")
        return token_id, secret_key


def _add_permission_options(parser: argparse.ArgumentParser, *, new: bool) -> None:
    """--video (alias --scope), --data and --system: what FastPix granted, per area."""
    default = " (default read_write)" if new else ""
    parser.add_argument(
        "--video",
        "--scope",
        dest="video",
        choices=LEVELS,
        help="What the token was granted for Video (media, uploads, playback ids, live "
        f"streams) in the FastPix dashboard{default}. --scope is the older name.",
    )
    parser.add_argument(
        "--data",
        choices=LEVELS,
        help="What it was granted for Data (analytics)"
        + (" (default none)" if new else "")
        + ". A token granted Data alone cannot be verified (no FastPix call this app makes "
        "accepts it): it is stored unverified, without a request, and the output says so.",
    )
    parser.add_argument(
        "--system",
        choices=LEVELS,
        help="What it was granted for System: read_write is needed to create, rotate and "
        "revoke playback signing keys" + (" (default none)." if new else "."),
    )


def _grant(options: dict[str, Any], *, base: dict[Area, Scope]) -> dict[Area, Scope]:
    """The levels the options give, each area not given taken from ``base``."""
    return {
        area: Scope(options[area.value]) if options.get(area.value) else base[area] for area in Area
    }


def _grant_of(token: AccessToken) -> dict[Area, Scope]:
    return {area: token.scope_for(area) for area in Area}


def _add_store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="Store the token without asking FastPix whether the pair works (e.g. FastPix is "
        "unreachable from here); `fastpix_token verify` asks later.",
    )
    parser.add_argument(
        "--replace",
        action="store_true",
        help="If the workspace already holds this token id (active or invalid, not revoked), "
        "store the new secret key in that row instead of refusing; verified first, it makes an "
        "invalid token active again.",
    )


@sensitive_variables()
def _read_stdin_pair() -> tuple[str, str]:
    """The token id and the secret key, as two lines of standard input."""
    try:
        text = sys.stdin.read()
    except UnicodeDecodeError:
        raise CommandError("Standard input is not UTF-8 text.") from None
    # Lines end at "\n" only: str.splitlines() also splits at control characters (\x1c, \x85…),
    # which would turn a damaged secret into a wrong line count instead of a clear refusal.
    values = [line.strip() for line in text.split("\n") if line.strip()]
    if len(values) != 2:
        raise CommandError(
            "--stdin expects two non-empty lines: the token id, then the secret key."
        )
    return values[0], values[1]


def _as_dict(token: AccessToken) -> dict[str, Any]:
    return {
        "id": token.pk,
        "workspace": token.workspace.slug,
        "name": token.name,
        "hint": token.token_id_hint,
        # "scope" is the video level under its older name, kept for scripts that read it.
        "scope": str(token.scope),
        "video": str(token.scope),
        "data": str(token.data_scope),
        "system": str(token.system_scope),
        "permissions": token.permissions_label,
        "status": token.status,
        "status_reason": token.status_reason,
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
        "last_verified_at": token.last_verified_at.isoformat() if token.last_verified_at else None,
    }
