from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.auth.password_validation import validate_password
from django.db import models
from django.utils import timezone
from polymorphic.managers import PolymorphicManager
from polymorphic.models import PolymorphicModel

from .choices import AuthProvider
from .fields import EncryptedTextField
from .usernames import username_key


class UserManager(PolymorphicManager, BaseUserManager):
    """Polymorphic manager whose natural key (used by password login and createsuperuser) is a local user."""

    def get_by_natural_key(self, username):
        return self.get(username=username, auth_provider=AuthProvider.YAPTIDE)

    def create_user(self, username, password=None, **extra_fields):
        """A local user; the password validators run here too (`createsuperuser --noinput` skips its own)."""
        user = YaptideUser(username=username, **extra_fields)
        if password is not None:
            validate_password(password, user)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, username, password=None, **extra_fields):
        extra_fields.update(is_staff=True, is_superuser=True)
        return self.create_user(username, password, **extra_fields)


class User(PolymorphicModel, AbstractBaseUser, PermissionsMixin):
    """A person who runs simulations; the child class says how they sign in."""

    AUTH_PROVIDER: str = ""

    username = models.CharField(max_length=150)
    # Look-alike names (case, confusable letters) share a key; local users' keys are kept apart by the service.
    username_key = models.CharField(max_length=150, db_index=True, editable=False, default="")
    auth_provider = models.CharField(max_length=32, choices=AuthProvider.choices, editable=False)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Can log in to the admin site.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["username", "auth_provider"], name="user_unique_username_per_provider")
        ]

    def save(self, *args, **kwargs):
        # The discriminator follows the class, never input.
        if self.AUTH_PROVIDER:
            self.auth_provider = self.AUTH_PROVIDER
        self.username_key = username_key(self.username)
        if kwargs.get("update_fields") is not None and "username" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "username_key"}
        super().save(*args, **kwargs)

    def __str__(self):
        return f"{self.username} ({self.auth_provider})"


class YaptideUser(User):
    """A local account that logs in with a password (hashed by Django's hashers)."""

    AUTH_PROVIDER = AuthProvider.YAPTIDE

    class Meta:
        verbose_name = "local user"


class KeycloakUser(User):
    """An account made on first Keycloak (PLGrid) login; never logs in with a password."""

    AUTH_PROVIDER = AuthProvider.KEYCLOAK

    cert = EncryptedTextField(blank=True, default="")
    private_key = EncryptedTextField(blank=True, default="")

    class Meta:
        verbose_name = "Keycloak user"

    def save(self, *args, **kwargs):
        if self.has_usable_password():
            self.set_unusable_password()
        super().save(*args, **kwargs)


class UserLimits(models.Model):
    """A user's own quotas; an empty field means the site default (settings.QUOTA_*). Staff raise them in the admin."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, primary_key=True, related_name="limits")
    unfinished_jobs = models.PositiveIntegerField(null=True, blank=True, help_text="Jobs not yet finished at once.")
    unfinished_tasks = models.PositiveIntegerField(
        null=True, blank=True, help_text="Tasks of the unfinished jobs, together."
    )
    stored_megabytes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Compressed inputs, results and logs of all the user's jobs, in MB."
    )

    class Meta:
        verbose_name = "limits"
        verbose_name_plural = "limits"

    def __str__(self):
        return f"limits of {self.user}"
