from rest_framework import serializers

from .choices import AuthProvider
from .models import User


class CredentialsSerializer(serializers.Serializer):
    """A local user's name and password (register and log in)."""

    username = serializers.CharField(max_length=150, trim_whitespace=True)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class RefreshSerializer(serializers.Serializer):
    """A refresh token; browsers leave it out and send the `refresh_token` cookie instead."""

    refresh = serializers.CharField(required=False, max_length=4096)


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
