from rest_framework import serializers

from .choices import AuthProvider
from .models import User


class StrictCharField(serializers.CharField):
    """A string, never a number or boolean turned into one."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class CredentialsSerializer(serializers.Serializer):
    """A local user's name and password (log in)."""

    username = StrictCharField(max_length=150, trim_whitespace=True)
    password = StrictCharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class RegistrationSerializer(CredentialsSerializer):
    """A new local user's name and password; the service applies the rules the help texts state."""

    username = StrictCharField(
        max_length=150,
        trim_whitespace=True,
        help_text=(
            "Letters, digits and . _ @ + - of one script; no spaces, invisible or direction characters. "
            "Names that differ only in case or in look-alike letters count as the same name."
        ),
    )
    password = StrictCharField(
        min_length=8,
        max_length=4096,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text=(
            "At least 8 characters and 5 different ones; not only digits, not a common password, "
            "not like the username, not containing the service's name."
        ),
    )


class RefreshSerializer(serializers.Serializer):
    """A refresh token; browsers leave it out and send the `refresh_token` cookie instead."""

    refresh = StrictCharField(required=False, max_length=4096)


class TokensSerializer(serializers.Serializer):
    """Our access and refresh tokens (also set as HttpOnly cookies)."""

    access = serializers.CharField()
    refresh = serializers.CharField()


class UserSerializer(serializers.ModelSerializer):
    """Who the caller is."""

    can_run_batch = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "auth_provider", "is_staff", "can_run_batch"]
        read_only_fields = fields

    def get_can_run_batch(self, user) -> bool:
        return user_can_run_batch(user)


class LoginResponseSerializer(TokensSerializer):
    user = UserSerializer()


def user_can_run_batch(user) -> bool:
    """Keycloak users (with their cluster certificate) and staff may use HPC clusters."""
    return bool(user.is_staff or user.auth_provider == AuthProvider.KEYCLOAK)
