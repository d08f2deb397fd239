"""fastpix_doctor's findings: settings, encryption, tokens, signing keys, webhooks, media,
sources."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import timedelta

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError
from django.utils import timezone

from ..checks import webhook_path, webhook_route_problem
from ..client.credentials import token_id_problem
from ..conf import fastpix_settings
from ..exceptions import FastPixError
from ..fields import UndecryptableValue
from ..models import (
    AccessToken,
    Media,
    MediaStatus,
    SigningKey,
    SigningKeyStatus,
    TokenStatus,
    Upload,
    Workspace,
)
from ..scopes import Scope
from ..sources import media_sources
from . import limits
from .source_audit import objects_without_media
from .verify import verify_token
from .webhook_queue import stale_pending_events

OK, WARN, FAIL = "OK", "WARN", "FAIL"

# A pending media older than this has likely lost its task (a worker down, a queue misrouted).
STUCK_AFTER = timedelta(minutes=15)

# Pending media carrying an error listed one by one, at most this many per workspace.
PENDING_ERRORS_LISTED = 10

# System checks reported under "sources" rather than "settings"; a source whose workspace is
# missing makes no media for any save, as serious here as a workspace without a token.
SOURCE_CHECKS = {"fastpix.E005", "fastpix.E006", "fastpix.E007", "fastpix.E008", "fastpix.W003"}
# A missing webhook route (fastpix.W004) 404s every delivery: media never leave "created".
FAIL_IN_DOCTOR = {"fastpix.W003", "fastpix.W004"}

ROTATE_REMEDY = (
    "Add the key it was encrypted with to FIELD_ENCRYPTION_KEY (a list, the new key first), "
    "then run `manage.py fastpix_rotate_keys`. Nothing stored has been overwritten."
)


@dataclass(frozen=True)
class Finding:
    """One line of a diagnosis: OK, WARN or FAIL, and what to do about it."""

    level: str
    area: str
    message: str
    remedy: str = ""
    check_id: str = ""


def diagnose(
    *, verify: bool = True, by: str = "system:doctor", stuck_after: timedelta = STUCK_AFTER
) -> list[Finding]:
    """Check settings, encryption and every workspace; ``verify`` asks FastPix about each token."""
    checked = system_check_findings()
    # Source findings are printed together, after the workspaces.
    findings = [f for f in checked if f.area != "sources"]
    sources = [f for f in checked if f.area == "sources"]
    settings_ok = not any(f.level == FAIL and f.area == "settings" for f in findings)
    key_usable = not any(f.check_id == "fastpix.E001" for f in findings)
    try:
        # Secrets deferred: a malformed key raises on load, and they are checked one by one.
        workspaces = list(
            Workspace.objects.defer("webhook_secret", "previous_webhook_secret").order_by("slug")
        )
    except DatabaseError as exc:
        return [
            *findings,
            *sources,
            Finding(
                FAIL,
                "database",
                f"The FastPix tables cannot be read ({type(exc).__name__}).",
                "Run `manage.py migrate`.",
            ),
        ]
    if not workspaces:
        findings.append(
            Finding(WARN, "workspaces", "No workspace yet.", "Add one in the admin (Workspaces).")
        )
    for workspace in workspaces:
        findings += workspace_findings(
            workspace,
            verify=verify and settings_ok and key_usable,
            key_usable=key_usable,
            by=by,
            stuck_after=stuck_after,
        )
    return [*findings, *sources, *source_object_findings()]


def system_check_findings() -> list[Finding]:
    """The ``fastpix.*`` system checks as findings, with an OK line for each part that passed."""
    messages = [m for m in checks.run_checks() if str(m.id or "").startswith("fastpix.")]
    ids = {m.id for m in messages}
    by_area: dict[str, list[Finding]] = {"settings": [], "encryption": [], "sources": []}
    for message in messages:
        area = "encryption" if message.id in ("fastpix.E001", "fastpix.E002") else "settings"
        area = "sources" if message.id in SOURCE_CHECKS else area
        level = FAIL if message.is_serious() else WARN if message.level >= checks.WARNING else OK
        level = FAIL if message.id in FAIL_IN_DOCTOR else level
        by_area[area].append(
            Finding(level, area, str(message.msg), str(message.hint or ""), str(message.id))
        )
    if not by_area["settings"]:
        by_area["settings"].append(
            Finding(OK, "settings", f"FASTPIX is valid; API at {fastpix_settings.API_BASE_URL}.")
        )
    if "fastpix.E001" not in ids:
        by_area["encryption"].insert(
            0, Finding(OK, "encryption", "FIELD_ENCRYPTION_KEY is set and well formed.")
        )
        if "fastpix.E002" not in ids:
            by_area["encryption"].append(
                Finding(OK, "encryption", "Every stored FastPix secret decrypts.")
            )
    return by_area["settings"] + by_area["encryption"] + by_area["sources"]


def workspace_findings(
    workspace: Workspace, *, verify: bool, key_usable: bool, by: str, stuck_after: timedelta
) -> list[Finding]:
    """Tokens, webhook secret and stuck media of one workspace."""
    area = f"workspace {workspace.slug}"
    # Verified first, so the counts below leave out a token FastPix has just rejected.
    verified = token_decrypt_findings(workspace, area, verify=verify, by=by) if key_usable else []
    findings = [*token_findings(workspace, area), *verified]
    findings += signing_key_findings(workspace, area, key_usable=key_usable)
    if key_usable:
        findings.append(webhook_secret_finding(workspace, area))
    findings += webhook_route_findings(workspace, area)
    findings += media_findings(workspace, area, stuck_after)
    findings += pending_error_findings(workspace, area)
    findings += upload_findings(workspace, area)
    findings += queued_event_findings(workspace, area)
    findings += limits_findings(workspace, area)
    return findings


def limits_findings(workspace: Workspace, area: str) -> list[Finding]:
    """A 429 pause or an open (or half-open) circuit holding the workspace's calls, if any."""
    try:
        state = limits.read(workspace)
    except (DatabaseError, ImproperlyConfigured) as exc:
        return [
            Finding(
                WARN,
                area,
                f"The shared call limits cannot be read ({type(exc).__name__}: {exc}).",
                "Check FASTPIX['LIMITS_STORE'] / ['LIMITS_CACHE'] and run `manage.py migrate`.",
            )
        ]
    now = timezone.now()
    clear = (
        "It lifts by itself; to let calls through now, use the workspace admin's action "
        "“Clear pause and close circuit”."
    )
    if state.paused(now) or state.circuit(now) != limits.CLOSED:
        return [Finding(WARN, area, f"FastPix calls held: {limits.describe(state, now)}.", clear)]
    if state.consecutive_failures:
        return [
            Finding(
                WARN,
                area,
                f"{state.consecutive_failures} FastPix call(s) in a row failed "
                f"(last: {state.last_failure}); the circuit opens at "
                f"{limits.threshold()}.",
            )
        ]
    return []


def token_findings(workspace: Workspace, area: str) -> list[Finding]:
    """Whether active tokens cover video reads and writes (read from plain columns only)."""
    rows = list(AccessToken.objects.filter(workspace=workspace).values_list("scope", "status"))
    active_any = [scope for scope, status in rows if status == TokenStatus.ACTIVE]
    # The media calls: tokens granted Video (a System- or Data-only token makes none of them).
    active = [scope for scope in active_any if scope != Scope.NONE]
    invalid = sum(1 for _, status in rows if status == TokenStatus.INVALID)
    add = f"`manage.py fastpix_token add --workspace {workspace.slug} --name NAME --video"
    findings: list[Finding] = []
    if not active_any:
        findings.append(
            Finding(FAIL, area, "No active token: every FastPix call fails.", f"{add} read_write`.")
        )
    elif not active:
        findings.append(
            Finding(
                FAIL,
                area,
                "No active token with Video permission: every media call fails.",
                f"{add} read_write`, or record the Video permission of a token granted it "
                "(`manage.py fastpix_token permissions ID --video read_write`).",
            )
        )
    else:
        read_only = active.count(Scope.READ)
        findings.append(
            Finding(OK, area, f"Reads: {len(active)} active token(s), {read_only} read-only.")
        )
        writers = active.count(Scope.READ_WRITE)
        if writers:
            findings.append(Finding(OK, area, f"Writes: {writers} active read_write token(s)."))
        else:
            findings.append(
                Finding(
                    WARN,
                    area,
                    "No active read_write token: creating, uploading and deleting media fail.",
                    f"{add} read_write` with a token granted write access in FastPix.",
                )
            )
    if invalid:
        findings.append(
            Finding(
                WARN,
                area,
                f"{invalid} token(s) invalid (FastPix answered 401).",
                f"`manage.py fastpix_token verify --workspace {workspace.slug}` rechecks them; "
                "revoke those FastPix no longer knows (`fastpix_token revoke ID --reason ...`).",
            )
        )
    return findings


def token_decrypt_findings(
    workspace: Workspace, area: str, *, verify: bool, by: str
) -> list[Finding]:
    """Tokens decrypt and keep the token-id rule; with ``verify``, FastPix accepts active ones."""
    findings: list[Finding] = []
    # Invalid tokens too: a verify may make one active again, so a broken id matters there.
    tokens = AccessToken.objects.filter(workspace=workspace).exclude(status=TokenStatus.REVOKED)
    for token in tokens.order_by("pk"):
        name = f"Token #{token.pk} {token}"
        active = token.status == TokenStatus.ACTIVE
        if isinstance(token.token_id, UndecryptableValue) or isinstance(
            token.secret_key, UndecryptableValue
        ):
            if active:
                findings.append(Finding(FAIL, area, f"{name} cannot be decrypted.", ROTATE_REMEDY))
            continue
        problem = token_id_problem(token.token_id)
        if problem:
            findings.append(token_rule_finding(token, workspace, name, problem))
        elif verify and active:
            findings.append(verify_finding(token, name, area, by))
    return findings


def token_rule_finding(
    token: AccessToken, workspace: Workspace, name: str, problem: str
) -> Finding:
    """A stored token id that no request can carry (stored before the rule); names no id."""
    return Finding(
        FAIL if token.status == TokenStatus.ACTIVE else WARN,
        f"workspace {workspace.slug}",
        f"{name}: {problem} No FastPix request can use this token.",
        f"Revoke it (`manage.py fastpix_token revoke {token.pk} --reason ...`) and add it again "
        "with the id exactly as FastPix shows it "
        f"(`manage.py fastpix_token add --workspace {workspace.slug} --name NAME`).",
    )


def verify_finding(token: AccessToken, name: str, area: str, by: str) -> Finding:
    """Ask FastPix about one active token; a 401 marks it invalid, as `fastpix_token verify`."""
    try:
        result = verify_token(token, by=by)
    except (FastPixError, ImproperlyConfigured) as exc:
        return Finding(FAIL, area, f"{name}: {exc}", "Rerun once it is fixed.")
    if result.ok:
        return Finding(OK, area, f"{name}: FastPix accepted it.")
    if result.unverifiable:
        return Finding(
            WARN,
            area,
            f"{name}: {result.detail}",
            "Nothing in django-fastpix uses a Data-only token. If FastPix granted it Video or "
            f"System too, record that (`manage.py fastpix_token permissions {token.pk} --video "
            "LEVEL --system LEVEL`).",
        )
    if result.invalidated:
        return Finding(
            FAIL,
            area,
            f"{name}: {result.detail} It is now marked invalid.",
            "Create a new token in FastPix, add it with `manage.py fastpix_token add`, "
            f"then revoke this one (`fastpix_token revoke {token.pk} --reason ...`).",
        )
    return Finding(
        FAIL,
        area,
        f"{name}: {result.detail}",
        "Check FASTPIX['API_BASE_URL'], the network and the token's permissions.",
    )


def signing_key_findings(workspace: Workspace, area: str, *, key_usable: bool) -> list[Finding]:
    """Whether private playback can be signed, and keys FastPix should no longer hold."""
    findings = private_playback_findings(workspace, area)
    if key_usable:
        findings += undecryptable_key_findings(workspace, area)
    findings += key_deletion_findings(workspace, area)
    return findings


def private_playback_findings(workspace: Workspace, area: str) -> list[Finding]:
    """Private media need an active signing key, or a token that can create one."""
    private = (
        Media.objects.filter(workspace=workspace)
        .exclude(access_policy="public")
        .exclude(status=MediaStatus.DELETED)
        .count()
    )
    active_keys = list(
        SigningKey.objects.signing(workspace).values_list("fastpix_id", flat=True)[:1]
    )
    if active_keys:
        return [Finding(OK, area, f"Private playback is signed with key {active_keys[0]}.")]
    if not private:
        return []
    can_create = (
        AccessToken.objects.active()
        .filter(workspace=workspace, system_scope=Scope.READ_WRITE)
        .exists()
    )
    create = f"`manage.py fastpix_signing_keys create --workspace {workspace.slug}`"
    if not can_create:
        return [
            Finding(
                FAIL,
                area,
                f"{private} private media, but no active signing key and no active token with "
                "System read and write to create one: their playback fails.",
                "Grant a token System (read and write) in the FastPix dashboard and record it "
                "(`manage.py fastpix_token permissions ID --system read_write`, or "
                f"`fastpix_token add --workspace {workspace.slug} --name NAME --system "
                f"read_write`), then {create}.",
            )
        ]
    if not fastpix_settings.CREATE_SIGNING_KEY_ON_DEMAND:
        return [
            Finding(
                FAIL,
                area,
                f"{private} private media, but no active signing key, and FASTPIX"
                "['CREATE_SIGNING_KEY_ON_DEMAND'] is off: their playback fails.",
                f"{create}.",
            )
        ]
    return [
        Finding(
            OK,
            area,
            f"{private} private media; no signing key yet: one is created through FastPix on the "
            "first private playback (a token with System read and write is stored).",
        )
    ]


def undecryptable_key_findings(workspace: Workspace, area: str) -> list[Finding]:
    """Active signing keys whose private key FIELD_ENCRYPTION_KEY does not decrypt."""
    keys = SigningKey.objects.signing(workspace).only("pk", "fastpix_id", "private_key")
    return [
        Finding(
            FAIL,
            area,
            f"Signing key {key.fastpix_id} cannot be decrypted: private playback cannot be "
            "signed with it.",
            "Add the key it was encrypted with to FIELD_ENCRYPTION_KEY (a list, the new key "
            "first) and run `manage.py fastpix_rotate_keys`, or replace the signing key "
            f"(`manage.py fastpix_signing_keys rotate --workspace {workspace.slug}`).",
        )
        for key in keys
        if isinstance(key.private_key, UndecryptableValue)
    ]


def key_deletion_findings(workspace: Workspace, area: str) -> list[Finding]:
    """Revoked keys, and retiring keys past their overlap, that FastPix still holds."""
    now = timezone.now()
    due = SigningKey.objects.awaiting_deletion().filter(workspace=workspace)
    revoked = list(due.filter(status=SigningKeyStatus.REVOKED).values_list("fastpix_id", flat=True))
    expired = list(
        due.filter(status=SigningKeyStatus.RETIRING, expires_at__lte=now).values_list(
            "fastpix_id", flat=True
        )
    )
    prune = "Run `manage.py fastpix_signing_keys prune` (and schedule it, e.g. hourly)."
    findings: list[Finding] = []
    if revoked:
        # A revoked key is one that leaked: while FastPix holds it, tokens signed with it play.
        findings.append(
            Finding(
                FAIL,
                area,
                f"Revoked signing key(s) {', '.join(revoked)} not yet deleted in FastPix: "
                "playback tokens signed with them are still accepted.",
                prune,
            )
        )
    if expired:
        findings.append(
            Finding(
                WARN,
                area,
                f"Retiring signing key(s) {', '.join(expired)} are past their overlap but not "
                "yet deleted in FastPix.",
                prune,
            )
        )
    return findings


def webhook_secret_finding(workspace: Workspace, area: str) -> Finding:
    """The workspace's webhook secret: set, decryptable and base64."""
    secret = Workspace.objects.only("pk", "webhook_secret").get(pk=workspace.pk).webhook_secret
    if not secret:
        return Finding(
            WARN,
            area,
            "No webhook secret: FastPix deliveries are refused (401), so media state only "
            "updates through `fastpix_sync_media`.",
            "Paste the signing secret FastPix shows for this workspace's webhook into the "
            "workspace in the admin, or run "
            f"`manage.py fastpix_workspace set-webhook-secret {workspace.slug}` (it prompts).",
        )
    if isinstance(secret, UndecryptableValue):
        return Finding(FAIL, area, "The webhook secret cannot be decrypted.", ROTATE_REMEDY)
    try:
        base64.b64decode(str(secret), validate=True)
    except (binascii.Error, ValueError):
        return Finding(
            FAIL,
            area,
            "The webhook secret is not base64, so no signature can match.",
            "Copy the secret exactly as FastPix shows it into the workspace in the admin.",
        )
    return Finding(OK, area, "Webhook secret is set.")


def webhook_route_findings(workspace: Workspace, area: str) -> list[Finding]:
    """Whether this workspace's webhook URL reaches the app's view (no route at all: W004)."""
    try:
        path = webhook_path(workspace.slug)
        problem = webhook_route_problem(workspace.slug) if path is not None else None
    except Exception:  # a URLconf that does not load: Django's own checks report it
        return []
    if path is None:
        return []  # no route at all: fastpix.W004 says so, once, under "settings"
    if problem:
        return [
            Finding(
                FAIL,
                area,
                problem,
                'Move path("fastpix/", include("django_fastpix.urls")) above the pattern that '
                "catches it in your urls.py.",
            )
        ]
    return [
        Finding(
            OK,
            area,
            f"Webhooks are routed: {path} reaches the app's view (`manage.py fastpix_workspace "
            f"webhook-url {workspace.slug}` prints the whole URL to paste into FastPix).",
        )
    ]


def media_findings(workspace: Workspace, area: str, stuck_after: timedelta) -> list[Finding]:
    """Media pending for longer than ``stuck_after``, and failed media."""
    media = Media.objects.filter(workspace=workspace)
    cutoff = timezone.now() - stuck_after
    stuck = media.filter(status=MediaStatus.PENDING, created_at__lt=cutoff).count()
    failed = media.filter(status=MediaStatus.FAILED).count()
    listing = f"`manage.py fastpix_media list --workspace {workspace.slug} --status"
    findings: list[Finding] = []
    if stuck:
        minutes = int(stuck_after.total_seconds() // 60)
        findings.append(
            Finding(
                WARN,
                area,
                f"{stuck} media pending for over {minutes} min.",
                f"Check that the task worker runs; {listing} pending` lists them, "
                "`fastpix_media retry ID` sends one again.",
            )
        )
    if failed:
        findings.append(
            Finding(
                WARN,
                area,
                f"{failed} media failed.",
                f"{listing} failed` shows why; fix the source and `fastpix_media retry ID`.",
            )
        )
    if not stuck and not failed:
        findings.append(Finding(OK, area, f"No stuck or failed media ({media.count()} in all)."))
    return findings


def pending_error_findings(workspace: Workspace, area: str) -> list[Finding]:
    """Pending media whose last attempt left a reason (retried later), each with that reason."""
    erring = (
        Media.objects.filter(workspace=workspace, status=MediaStatus.PENDING)
        .exclude(error="")
        .order_by("pk")
    )
    listed = list(erring[:PENDING_ERRORS_LISTED])
    findings = [
        Finding(
            WARN,
            area,
            f"Media #{media.pk} {str(media)!r} is pending after {media.creation_attempts} "
            f"attempt(s): {_first_line(media.error)}",
            "It is tried again automatically; once the cause is fixed, "
            f"`manage.py fastpix_media retry {media.pk}` tries now.",
        )
        for media in listed
    ]
    more = erring.count() - len(listed) if len(listed) == PENDING_ERRORS_LISTED else 0
    if more:
        findings.append(
            Finding(
                WARN,
                area,
                f"{more} more pending media with an error.",
                f"`manage.py fastpix_media list --workspace {workspace.slug} --status pending`.",
            )
        )
    return findings


def upload_findings(workspace: Workspace, area: str) -> list[Finding]:
    """Browser uploads whose URL expired while still waiting: nobody swept them."""
    expired = Upload.objects.waiting().filter(workspace=workspace, expires_at__lt=timezone.now())
    count = expired.count()
    if not count:
        return []
    return [
        Finding(
            WARN,
            area,
            f"{count} browser upload(s) expired unused but are still waiting.",
            "Run `manage.py fastpix_uploads sweep` (cron it, or enqueue the task "
            "django_fastpix.tasks.sweep_uploads).",
        )
    ]


def queued_event_findings(workspace: Workspace, area: str) -> list[Finding]:
    """Webhook events stored for a worker (queued processing) that none applied in time."""
    count = stale_pending_events().filter(workspace=workspace).count()
    if not count:
        return []
    return [
        Finding(
            WARN,
            area,
            f"{count} webhook event(s) stored for a worker were not applied within "
            f"RECOVERY_GRACE_SECONDS: is a worker running?",
            "Start a worker for FASTPIX['TASK_BACKEND']; `manage.py fastpix_media recover` "
            "queues them again.",
        )
    ]


def _first_line(text: str, limit: int = 300) -> str:
    line = (text.strip().splitlines() or [""])[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def source_object_findings() -> list[Finding]:
    """Per source model, the objects holding a video URL that never got a media."""
    try:
        sources = media_sources()
    except Exception:
        # A broken MEDIA_SOURCES (a model, field or import) is named by fastpix.E005-E008.
        return []
    findings: list[Finding] = []
    for source in sources.values():
        label = source.model._meta.label
        try:
            missing = objects_without_media(source).count()
        except DatabaseError as exc:
            findings.append(
                Finding(
                    WARN,
                    "sources",
                    f"{label} cannot be read ({type(exc).__name__}).",
                    "Run `manage.py migrate`.",
                )
            )
            continue
        if missing:
            findings.append(
                Finding(
                    WARN,
                    "sources",
                    f"{missing} {label} object(s) hold a video URL but have no media: saved "
                    "while no media could be made (a missing workspace, a failing source "
                    "option; the log says which).",
                    "Fix the cause (see the findings above), then run "
                    "`manage.py fastpix_media recover`: it creates their media.",
                )
            )
    return findings
