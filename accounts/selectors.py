"""Reads of users; the token's user lookup is plain SQL, since it runs on every authenticated request."""

from yaptide_site.db import fetch_model

from .models import User

# In the order of the model's concrete fields (Model.from_db maps values in that order); the password hash is
# there for the token's password stamp (accounts.authentication.check_stamp).
TOKEN_USER_FIELDS = ("id", "password", "is_superuser", "username", "auth_provider", "is_active", "is_staff")
_TOKEN_USER_SQL = f"SELECT {', '.join(TOKEN_USER_FIELDS)} FROM {User._meta.db_table} WHERE id = %s"


def token_user(user_id: int) -> User | None:
    """The user a token names, with TOKEN_USER_FIELDS loaded (one query)."""
    return fetch_model(User, _TOKEN_USER_SQL, [user_id], TOKEN_USER_FIELDS)
