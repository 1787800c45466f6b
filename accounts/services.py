"""Writes on users: local accounts, Keycloak accounts, deactivation and removal."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from simulations.choices import TERMINAL_STATES
from simulations.models import Simulation
from simulations.services import simulation_cancel, simulation_delete
from yaptide_site.errors import Conflict, InvalidInput

from .models import KeycloakUser, User, YaptideUser


def _checked_password(password: str, user: User | None = None) -> str:
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise InvalidInput(" ".join(error.messages), field="password") from None
    return password


@transaction.atomic
def user_create_local(
    *, username: str, password: str, is_staff: bool = False, is_superuser: bool = False
) -> YaptideUser:
    """Creates a local user with a hashed password; the name must be free among local users."""
    username = (username or "").strip()
    if not username:
        raise InvalidInput("username must not be empty", field="username")
    if YaptideUser.objects.filter(username=username).exists():
        raise Conflict(f"a local user named {username!r} already exists", field="username")
    user = YaptideUser(username=username, is_staff=is_staff, is_superuser=is_superuser)
    user.set_password(_checked_password(password, user))
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise Conflict(f"a local user named {username!r} already exists", field="username") from None
    return user


@transaction.atomic
def user_update(
    *,
    user: User,
    password: str | None = None,
    is_active: bool | None = None,
    is_staff: bool | None = None,
) -> User:
    """Changes a user's password (local users only), active flag or staff flag."""
    if password is not None:
        if not isinstance(user, YaptideUser):
            raise InvalidInput("Keycloak users have no password", field="password")
        user.set_password(_checked_password(password, user))
    if is_active is not None:
        user.is_active = is_active
    if is_staff is not None:
        user.is_staff = is_staff
    user.save()
    return user


@transaction.atomic
def keycloak_user_upsert(*, username: str) -> KeycloakUser:
    """The Keycloak user of this name, created on first login."""
    user, _ = KeycloakUser.objects.get_or_create(username=username)
    if not user.is_active:
        raise Conflict(f"user {username!r} is deactivated")
    return user


def keycloak_credentials_store(*, user: KeycloakUser, cert: str, private_key: str) -> None:
    """Replaces the user's SSH certificate and key (encrypted at rest by their fields)."""
    user.cert, user.private_key = cert, private_key
    user.save(update_fields=["cert", "private_key"])


@transaction.atomic
def user_remove(*, user: User) -> None:
    """Removes a user and, with them, all their simulations, in one transaction; unfinished ones are canceled
    first (their workers are told once it commits)."""
    for simulation in Simulation.objects.non_polymorphic().filter(user=user):
        if simulation.job_state not in TERMINAL_STATES:
            simulation_cancel(simulation=simulation)
        simulation_delete(simulation=simulation)
    User.objects.non_polymorphic().filter(pk=user.pk).delete()
