"""A user's quotas: their own (accounts.models.UserLimits) where set, else the site defaults from settings."""

from dataclasses import dataclass

from django.conf import settings

from .models import User, UserLimits


@dataclass(frozen=True)
class Limits:
    unfinished_jobs: int
    unfinished_tasks: int
    stored_bytes: int


def limits_of(user: User) -> Limits:
    """The quotas that apply to `user` (one query)."""
    own = UserLimits.objects.filter(user_id=user.pk).first()

    def pick(name: str, default: int) -> int:
        value = getattr(own, name, None) if own is not None else None
        return default if value is None else value

    return Limits(
        unfinished_jobs=pick("unfinished_jobs", settings.QUOTA_UNFINISHED_JOBS),
        unfinished_tasks=pick("unfinished_tasks", settings.QUOTA_UNFINISHED_TASKS),
        stored_bytes=pick("stored_megabytes", settings.QUOTA_STORED_MEGABYTES) * 1024 * 1024,
    )
