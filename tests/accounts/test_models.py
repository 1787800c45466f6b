import pytest
from django.contrib.auth import authenticate, get_user_model
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.choices import AuthProvider
from accounts.fields import EncryptedTextField
from accounts.models import KeycloakUser, User, YaptideUser
from tests.factories import KeycloakUserFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-unusual-passphrase-7"
CERT = "-----BEGIN CERTIFICATE-----\nMIIcert\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----\n"


def test_user_model_is_the_polymorphic_accounts_user():
    assert get_user_model() is User
    assert {f.name for f in User._meta.concrete_fields} >= {
        "id",
        "username",
        "auth_provider",
        "password",
        "last_login",
        "is_superuser",
        "is_active",
        "is_staff",
        "date_joined",
    }
    assert {f.name for f in KeycloakUser._meta.local_concrete_fields} >= {"cert", "private_key"}


def test_user_queries_return_the_child_classes():
    local = UserFactory(username="marie")
    keycloak = KeycloakUserFactory(username="plgnowak")

    users = {user.username: user for user in User.objects.all()}

    assert type(users["marie"]) is YaptideUser and users["marie"].pk == local.pk
    assert type(users["plgnowak"]) is KeycloakUser and users["plgnowak"].pk == keycloak.pk
    assert list(YaptideUser.objects.values_list("username", flat=True)) == ["marie"]
    assert {type(u) for u in User.objects.non_polymorphic()} == {User}


def test_auth_provider_comes_from_the_class_not_from_input():
    local = YaptideUser(username="marie", auth_provider=AuthProvider.KEYCLOAK)
    local.save()
    keycloak = KeycloakUser.objects.create(username="plg", auth_provider=AuthProvider.YAPTIDE)

    assert User.objects.get(pk=local.pk).auth_provider == AuthProvider.YAPTIDE == "YaptideUser"
    assert User.objects.get(pk=keycloak.pk).auth_provider == AuthProvider.KEYCLOAK == "KeycloakUser"


def test_username_is_unique_per_auth_provider():
    UserFactory(username="marie")
    KeycloakUserFactory(username="marie")  # the same name once per provider is fine

    with pytest.raises(IntegrityError), transaction.atomic():
        YaptideUser.objects.create(username="marie")
    with pytest.raises(IntegrityError), transaction.atomic():
        KeycloakUser.objects.create(username="marie")
    assert User.objects.filter(username="marie").count() == 2


def test_local_password_is_hashed_by_django_and_logs_in():
    user = YaptideUser.objects.create_user("marie", PASSWORD)

    assert user.password != PASSWORD and "$" in user.password
    assert authenticate(username="marie", password=PASSWORD) == user
    assert authenticate(username="marie", password="wrong-password-1") is None


def test_inactive_user_cannot_log_in():
    YaptideUser.objects.create_user("marie", PASSWORD, is_active=False)

    assert authenticate(username="marie", password=PASSWORD) is None


def test_keycloak_user_never_logs_in_with_a_password():
    user = KeycloakUser(username="plgnowak")
    user.set_password(PASSWORD)
    user.save()

    user.refresh_from_db()
    assert not user.has_usable_password()
    assert authenticate(username="plgnowak", password=PASSWORD) is None
    # Even a usable hash written behind the model's back does not log a Keycloak user in.
    User.objects.filter(pk=user.pk).update(password=YaptideUser.objects.create_user("x", PASSWORD).password)
    assert authenticate(username="plgnowak", password=PASSWORD) is None


def test_local_user_of_same_name_as_keycloak_user_logs_in_as_the_local_one():
    KeycloakUserFactory(username="marie")
    local = YaptideUser.objects.create_user("marie", PASSWORD)

    assert authenticate(username="marie", password=PASSWORD) == local


def _raw_secrets(user) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT cert, private_key FROM accounts_keycloakuser WHERE user_ptr_id = %s", [user.pk])
        return cursor.fetchone()


def test_keycloak_cert_and_private_key_are_encrypted_at_rest_and_decrypt_back():
    user = KeycloakUserFactory(cert=CERT, private_key=KEY)

    raw_cert, raw_key = _raw_secrets(user)

    assert "MIIcert" not in raw_cert and "b3BlbnNzaC1rZXk" not in raw_key
    assert raw_cert.startswith("gAAAA") and raw_key.startswith("gAAAA")  # Fernet tokens
    fresh = KeycloakUser.objects.get(pk=user.pk)
    assert (fresh.cert, fresh.private_key) == (CERT, KEY)
    assert (User.objects.get(pk=user.pk).cert, User.objects.get(pk=user.pk).private_key) == (CERT, KEY)


def test_same_secret_encrypts_differently_each_time():
    first = KeycloakUserFactory(cert=CERT)
    second = KeycloakUserFactory(cert=CERT)

    assert _raw_secrets(first)[0] != _raw_secrets(second)[0]


def test_empty_secrets_are_stored_empty():
    user = KeycloakUserFactory()

    assert _raw_secrets(user) == ("", "")
    assert KeycloakUser.objects.get(pk=user.pk).cert == ""


def test_secrets_stay_readable_after_key_rotation(settings):
    from accounts import fields

    user = KeycloakUserFactory(cert=CERT)
    settings.FIELD_ENCRYPTION_KEYS = ["bmV3LWtleS1mb3ItdGVzdHMtMzItYnl0ZXMtbG9uZyE=", *settings.FIELD_ENCRYPTION_KEYS]
    fields._fernet.cache_clear()
    try:
        assert KeycloakUser.objects.get(pk=user.pk).cert == CERT
        rotated = KeycloakUserFactory(cert=CERT)
        assert KeycloakUser.objects.get(pk=rotated.pk).cert == CERT
    finally:
        fields._fernet.cache_clear()


def test_encrypted_field_is_a_text_column():
    assert isinstance(KeycloakUser._meta.get_field("cert"), EncryptedTextField)
    assert isinstance(KeycloakUser._meta.get_field("private_key"), EncryptedTextField)


def test_user_defaults_and_str():
    before = timezone.now()
    user = UserFactory(username="marie")

    assert user.is_active and not user.is_staff and not user.is_superuser
    assert user.last_login is None
    assert before <= user.date_joined <= timezone.now()
    assert str(user) == "marie (YaptideUser)"


def test_create_superuser_makes_a_local_staff_superuser():
    user = User.objects.create_superuser("root", PASSWORD)

    assert isinstance(user, YaptideUser)
    assert user.is_staff and user.is_superuser and user.check_password(PASSWORD)


def test_deleting_a_user_deletes_their_simulations(submit, user):
    simulation, _ = submit(owner=user)

    User.objects.non_polymorphic().filter(pk=user.pk).delete()

    from simulations.models import Simulation

    assert not Simulation.objects.filter(pk=simulation.pk).exists()
