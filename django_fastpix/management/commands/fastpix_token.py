"""fastpix_token: add, list, verify, revoke and invalidate FastPix access tokens from a shell."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

import environ
from django.core.management.base import CommandError
from django.views.decorators.debug import sensitive_variables

from ...models import AccessToken, TokenStatus
from ...scopes import Scope
from ...services import tokens as token_services
from ...services.verify import pair_problem, verify_token
from ..base import SubcommandCommand, env_from_file

ENV_TOKEN_ID = "FASTPIX_TOKEN_ID"
ENV_SECRET_KEY = "FASTPIX_SECRET_KEY"


UNVERIFIED_HINT = "add --no-verify to store it now and verify it later (`fastpix_token verify`)"


class Command(SubcommandCommand):
    help = (
        "Manage FastPix access tokens. Secrets are read from a prompt, standard input, a .env "
        "file or the environment, never from the command line (it leaks into shell history)."
    )

    def add_subcommands(self, sub: argparse._SubParsersAction[Any]) -> None:
        add = sub.add_parser("add", help="Verify a token with FastPix, then store it (encrypted).")
        add.add_argument("--workspace", required=True, help="Workspace slug.")
        add.add_argument("--name", required=True, help="A name operators will recognise.")
        add.add_argument(
            "--scope",
            choices=[s.value for s in Scope],
            default=Scope.READ_WRITE.value,
            help="What the token was granted in FastPix (default read_write).",
        )
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
        imp.add_argument(
            "--scope",
            choices=[s.value for s in Scope],
            default=Scope.READ_WRITE.value,
            help="What the token was granted in FastPix (default read_write).",
        )
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
        verified = not options["no_verify"]
        if verified:
            problem = pair_problem(token_id, secret_key, unverified_hint=UNVERIFIED_HINT)
            if problem:
                raise CommandError(f"{problem} Nothing was stored.")
        if existing is not None:
            token = token_services.replace_secret_key(
                existing, secret_key, verified=verified, by=_actor()
            )
            text = f"Replaced the secret key of token #{token.pk} {token} ({token.status})."
        else:
            token = token_services.add_token(
                workspace=workspace,
                name=options["name"],
                token_id=token_id,
                secret_key=secret_key,
                scope=options["scope"],
                verified=verified,
            )
            text = f"Added token #{token.pk} {token}."
        text += (
            " FastPix accepted it."
            if verified
            else f" Not verified: `fastpix_token verify {token.pk}` asks FastPix."
        )
        if options["json"]:
            self.write_json(
                {**_as_dict(token), "verified": verified, "replaced": existing is not None},
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
        header = f"{'ID':>4}  {'WORKSPACE':<16} {'NAME':<24} {'HINT':<6} {'SCOPE':<10} STATUS"
        self.stdout.write(header)
        for r in rows:
            self.stdout.write(
                f"{r['id']:>4}  {r['workspace']:<16} {r['name']:<24} …{r['hint']:<5} "
                f"{r['scope']:<10} {r['status']}"
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
        results = [verify_token(token, by=_actor()) for token in tokens]
        if options["json"]:
            self.write_json(
                [{**_as_dict(r.token), "ok": r.ok, "detail": r.detail} for r in results],
                indent=None,
            )
        else:
            for r in results:
                style = self.style.SUCCESS if r.ok else self.style.ERROR
                self.stdout.write(style(f"{r.token}: {r.detail}"))
        failed = [r for r in results if not r.ok]
        if failed:
            raise CommandError(f"{len(failed)} of {len(results)} token(s) failed verification.")

    def handle_revoke(self, **options: Any) -> None:
        token = self._token(options["token"])
        moved = token_services.revoke_token(token, reason=options["reason"], by=_actor())
        self._report(
            token, options, f"Revoked {token}." if moved else f"{token} was already revoked."
        )

    def handle_invalidate(self, **options: Any) -> None:
        token = self._token(options["token"])
        moved = token_services.invalidate_token(token, reason=options["reason"], by=_actor())
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
        "scope": token.scope,
        "status": token.status,
        "status_reason": token.status_reason,
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
        "last_verified_at": token.last_verified_at.isoformat() if token.last_verified_at else None,
    }


def _actor() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = "unknown"
    return f"cli:{user}"
