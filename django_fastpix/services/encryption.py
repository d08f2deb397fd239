"""Re-encrypting every stored secret under the newest key, so old keys can be retired."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.apps import apps
from django.db import models, transaction
from django.db.models.functions import Cast

from ..fields import EncryptedTextField, UndecryptableValue, is_current
from ..models import AccessToken
from ..models.token import token_id_digest


@dataclass
class RotationReport:
    """What a rotation did: counts, and the rows it could not decrypt."""

    rotated: int = 0
    already_current: int = 0
    undecryptable: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.rotated + self.already_current + len(self.undecryptable)


def encrypted_models() -> Iterator[tuple[type[models.Model], list[str]]]:
    """Each model of this app with its encrypted fields."""
    for model in apps.get_app_config("django_fastpix").get_models():
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if names:
            yield model, names


def rotate_encryption_keys(
    *, batch_size: int = 500, progress: Callable[[RotationReport], None] | None = None
) -> RotationReport:
    """Re-encrypt every encrypted value under the first FIELD_ENCRYPTION_KEY.

    Idempotent and safe to interrupt: each batch commits on its own, and a value already under
    the first key is left alone, so a re-run finishes the job. Undecryptable rows are reported
    and never written.
    """
    report = RotationReport()
    for model, names in encrypted_models():
        raw = {f"raw_{n}": Cast(n, output_field=models.TextField()) for n in names}
        last_pk = 0
        while True:
            batch = list(
                model._default_manager.filter(pk__gt=last_pk)
                .annotate(**raw)
                .order_by("pk")[:batch_size]
            )
            if not batch:
                break
            last_pk = batch[-1].pk
            to_save = []
            update_fields = set()
            for obj in batch:
                values = [getattr(obj, n) for n in names]
                if not any(values):
                    continue  # nothing encrypted in this row (e.g. no webhook secret yet)
                if any(isinstance(v, UndecryptableValue) for v in values):
                    report.undecryptable.append(f"{model._meta.label} #{obj.pk}")
                    continue
                stale = [
                    n
                    for n in names
                    if getattr(obj, f"raw_{n}") and not is_current(getattr(obj, f"raw_{n}"))
                ]
                if isinstance(obj, AccessToken):
                    # Also refreshes digests after a SECRET_KEY / TOKEN_DIGEST_KEY change.
                    digest = token_id_digest(str(obj.token_id))
                    if digest != obj.token_id_digest:
                        obj.token_id_digest = digest
                        stale.append("token_id_digest")
                if stale:
                    to_save.append(obj)
                    update_fields.update(stale)
                    # bulk_update writes all listed fields; re-encrypting the current ones too
                    # is harmless, so every encrypted field goes under the first key.
                    update_fields.update(names)
                    report.rotated += 1
                else:
                    report.already_current += 1
            if to_save:
                with transaction.atomic():
                    model._default_manager.bulk_update(to_save, sorted(update_fields))
            if progress:
                progress(report)
    return report
