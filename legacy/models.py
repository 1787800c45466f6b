from django.conf import settings
from django.db import models


class ImportedUser(models.Model):
    """Which user a legacy yaptide account became; makes the import idempotent by (username, auth_provider)."""

    legacy_username = models.TextField()
    auth_provider = models.CharField(max_length=32)
    legacy_id = models.PositiveIntegerField(help_text="The account's id in the yaptide database.")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    renamed = models.BooleanField(default=False)
    locked_out = models.BooleanField(default=False, help_text="Imported with an unusable password.")
    matched = models.BooleanField(default=False, help_text="Mapped onto a user that existed before the import.")
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["legacy_username", "auth_provider"], name="imported_user_unique_legacy")
        ]

    def __str__(self):
        return f"{self.legacy_username!r} ({self.auth_provider}) -> {self.user_id}"


class ImportState(models.Model):
    """One row per imported yaptide database: whether ids were kept, decided once at the first run."""

    source = models.CharField(max_length=255, unique=True, help_text="host:port/database of the yaptide database.")
    keep_user_ids = models.BooleanField()
    keep_cluster_ids = models.BooleanField()
    keep_simulation_ids = models.BooleanField()
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.source
