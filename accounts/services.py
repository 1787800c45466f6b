"""Writes on users: local accounts, Keycloak accounts, deactivation and removal."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from simulations.choices import TERMINAL_STATES
from simulations.models import Simulation
from simulations.services import simulation_cancel, simulation_delete
from yaptide_site.errors import Conflict, InvalidInput

from . import keycloak
from .models import KeycloakUser, User, YaptideUser
from .usernames import normalize_username, username_key, username_problem


def _checked_password(password: str, user: User | None = None) -> str:
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise InvalidInput(" ".join(error.messages), field="password") from None
    return password


def local_username_checked(username: str, *, user: User | None = None) -> str:
    """The normalized name if it follows the username rule and no other local user has a look-alike of it."""
    username = normalize_username(username or "")
    problem = username_problem(username)
    if problem:
        raise InvalidInput(problem, field="username")
    others = YaptideUser.objects.filter(username_key=username_key(username))
    if user is not None:
        others = others.exclude(pk=user.pk)
    if others.exists():
        raise Conflict(
            f"a local user named {username!r} already exists (names that differ only in case or look-alike "
            "letters count as one)",
            field="username",
        )
    return username


@transaction.atomic
def user_create_local(
    *, username: str, password: str, is_staff: bool = False, is_superuser: bool = False
) -> YaptideUser:
    """Creates a local user with a hashed password; the name must follow the username rule and be free among local
    users, where names that differ only in case or look-alike letters count as one."""
    username = local_username_checked(username)
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
    """Changes a user's password (local users only), active flag or staff flag; a new password or a deactivation
    revokes every token the user holds."""
    if password is not None:
        if not isinstance(user, YaptideUser):
            raise InvalidInput("Keycloak users have no password", field="password")
        user.set_password(_checked_password(password, user))
    if is_active is not None:
        user.is_active = is_active
    if is_staff is not None:
        user.is_staff = is_staff
    user.save()
    if password is not None or is_active is False:
        user_tokens_revoke(user=user)
    return user


def user_tokens_revoke(*, user: User) -> int:
    """Blacklists every unexpired refresh token of the user; access tokens die with the password stamp or the
    active flag (accounts.authentication). Returns how many were revoked."""
    live = OutstandingToken.objects.filter(user_id=user.pk, expires_at__gt=timezone.now(), blacklistedtoken=None)
    revoked = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token_id=pk) for pk in live.values_list("pk", flat=True)], ignore_conflicts=True
    )
    return len(revoked)


@transaction.atomic
def keycloak_user_upsert(*, username: str) -> KeycloakUser:
    """The Keycloak user of this name, created on first login."""
    user, _ = KeycloakUser.objects.get_or_create(username=username)
    if not user.is_active:
        raise Conflict(f"user {username!r} is deactivated")
    return user


def keycloak_sign_in(*, token: str) -> KeycloakUser:
    """The Keycloak user a verified Keycloak access token names, created on first login, with their SSH
    certificate and key fetched again from CERT_AUTH_URL (a failing service leaves the old ones, and logs it);
    raises KeycloakError (with its HTTP status) for a token we do not accept. Both API faces sign Keycloak users
    in through this."""
    claims = keycloak.keycloak_claims(token)
    username = claims["preferred_username"].strip()
    if len(username) > User._meta.get_field("username").max_length:
        raise keycloak.KeycloakError("invalid Keycloak token: preferred_username is too long")
    user = keycloak_user_upsert(username=username)
    credentials = keycloak.fetch_ssh_credentials(token)
    if credentials is not None:
        keycloak_credentials_store(user=user, cert=credentials[0], private_key=credentials[1])
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
