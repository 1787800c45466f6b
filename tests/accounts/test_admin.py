import logging

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import KeycloakUser, User, YaptideUser
from simulations.models import Simulation
from tests.factories import KeycloakUserFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-unusual-passphrase-7"
CERT = "-----BEGIN CERTIFICATE-----\nMIIsecretcert\n-----END CERTIFICATE-----"
KEY = "-----BEGIN PRIVATE KEY-----\nMIIsecretkey\n-----END PRIVATE KEY-----"
USERS = "/admin/accounts/user/"


def test_staff_user_logs_in_to_the_admin(client):
    YaptideUser.objects.create_user("operator", PASSWORD, is_staff=True)

    response = client.post(
        reverse("admin:login"), {"username": "operator", "password": PASSWORD, "next": "/admin/"}, follow=True
    )

    assert response.status_code == 200
    assert response.request["PATH_INFO"] == "/admin/"
    assert response.context["user"].username == "operator"


def test_non_staff_user_cannot_log_in_to_the_admin(client):
    YaptideUser.objects.create_user("physicist", PASSWORD)

    response = client.post(reverse("admin:login"), {"username": "physicist", "password": PASSWORD, "next": "/admin/"})

    assert response.status_code == 200  # the login form again, with an error
    assert not response.context["user"].is_authenticated
    assert client.get("/admin/").status_code == 302


def test_staff_keycloak_user_cannot_log_in_with_a_password(client):
    user = KeycloakUserFactory(username="plgstaff", is_staff=True)
    user.set_password(PASSWORD)  # saving makes it unusable again
    user.save()

    client.post(reverse("admin:login"), {"username": "plgstaff", "password": PASSWORD})

    assert client.get("/admin/").status_code == 302


def test_user_list_shows_both_kinds_with_links_to_their_simulations(admin_client, submit, user):
    submit(owner=user)
    submit(owner=user)
    keycloak = KeycloakUserFactory(username="plgkowalski")

    response = admin_client.get(USERS)

    html = response.content.decode()
    assert response.status_code == 200
    assert user.username in html and "plgkowalski" in html
    assert "Local (password)" in html and "Keycloak (PLGrid)" in html
    assert f"/admin/simulations/simulation/?user__id__exact={user.pk}" in html
    assert "2 simulations" in html
    assert f"/admin/simulations/simulation/?user__id__exact={keycloak.pk}" in html


def test_user_list_filters_by_kind_and_searches_names(admin_client):
    UserFactory(username="marie")
    keycloak = KeycloakUserFactory(username="plgnowak")
    ctype = ContentType.objects.get_for_model(KeycloakUser, for_concrete_model=False)

    by_kind = admin_client.get(USERS, {"polymorphic_ctype": ctype.pk}).content.decode()
    by_name = admin_client.get(USERS, {"q": "mari"}).content.decode()

    assert keycloak.username in by_kind and "marie" not in by_kind
    assert "marie" in by_name and keycloak.username not in by_name


def test_add_page_asks_which_kind_and_offers_only_local_users(admin_client):
    url = reverse("admin:accounts_user_add")
    response = admin_client.get(url)

    assert response.status_code == 302  # a single addable kind: straight to its form
    form = admin_client.get(url + response.url)
    assert form.status_code == 200
    assert 'name="password1"' in form.content.decode()
    assert admin_client.get(reverse("admin:accounts_keycloakuser_add")).status_code == 403


def _add_local_user(admin_client, **fields):
    url = reverse("admin:accounts_yaptideuser_add")
    data = {"username": "marie", "password1": PASSWORD, "password2": PASSWORD, **fields}
    return admin_client.post(url, data)


def test_adding_a_local_user_creates_it_through_the_service(admin_client, client):
    response = _add_local_user(admin_client, is_staff="on")

    assert response.status_code == 302
    user = User.objects.get(username="marie")
    assert isinstance(user, YaptideUser)
    assert user.is_staff and not user.is_superuser
    assert user.password != PASSWORD and user.check_password(PASSWORD)
    assert client.login(username="marie", password=PASSWORD)


@pytest.mark.parametrize(
    "fields, error",
    [
        ({"password2": "something-else-99"}, "The two passwords differ."),
        ({"password1": "abc", "password2": "abc"}, "This password is too short"),
        ({"username": "taken"}, "a local user named &#x27;taken&#x27; already exists"),
        ({"username": "  "}, "This field is required."),
    ],
)
def test_adding_a_local_user_shows_the_services_refusal_on_the_form(admin_client, fields, error):
    UserFactory(username="taken")

    response = _add_local_user(admin_client, **fields)

    assert response.status_code == 200
    assert error in response.content.decode()
    assert User.objects.filter(username="marie").count() == 0


def test_local_user_page_changes_flags_and_password(admin_client, submit):
    user = UserFactory(username="marie")
    submit(owner=user)
    url = reverse("admin:accounts_user_change", args=[user.pk])

    page = admin_client.get(url, follow=True)
    assert page.status_code == 200
    html = page.content.decode()
    assert user.password not in html  # not even the hash
    assert f"/admin/simulations/simulation/?user__id__exact={user.pk}" in html

    response = admin_client.post(
        page.request["PATH_INFO"],
        {"username": "marie", "is_active": "on", "is_staff": "on", "new_password": PASSWORD},
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.is_staff and user.check_password(PASSWORD)


def test_local_user_page_refuses_a_weak_new_password(admin_client):
    user = UserFactory(username="marie")

    response = admin_client.post(
        reverse("admin:accounts_yaptideuser_change", args=[user.pk]),
        {"username": "marie", "is_active": "on", "new_password": "123"},
    )

    assert response.status_code == 200
    assert "This password is too short" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password("correct-horse-battery-1")


def test_keycloak_user_page_never_shows_cert_or_private_key(admin_client, caplog):
    user = KeycloakUserFactory(username="plgnowak", cert=CERT, private_key=KEY)
    bare = KeycloakUserFactory(username="plgbare")
    caplog.set_level(logging.DEBUG)

    html = admin_client.get(reverse("admin:accounts_keycloakuser_change", args=[user.pk])).content.decode()
    bare_html = admin_client.get(reverse("admin:accounts_keycloakuser_change", args=[bare.pk])).content.decode()

    assert "MIIsecretcert" not in html and "MIIsecretkey" not in html
    with connection.cursor() as cursor:
        cursor.execute("SELECT cert, private_key FROM accounts_keycloakuser WHERE user_ptr_id = %s", [user.pk])
        stored_cert, stored_key = cursor.fetchone()
    assert stored_cert not in html and stored_key not in html
    assert html.count(">set<") == 2
    assert bare_html.count(">not set<") == 2
    assert "MIIsecret" not in caplog.text


def test_keycloak_user_cert_can_be_replaced_but_is_not_echoed(admin_client):
    user = KeycloakUserFactory(username="plgnowak", cert=CERT, private_key=KEY)
    url = reverse("admin:accounts_keycloakuser_change", args=[user.pk])

    response = admin_client.post(url, {"is_active": "on", "new_cert": "NEWCERT", "new_private_key": ""})

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.cert == "NEWCERT" and user.private_key == KEY
    assert "NEWCERT" not in admin_client.get(url).content.decode()
    history = admin_client.get(reverse("admin:accounts_keycloakuser_history", args=[user.pk])).content.decode()
    assert "NEWCERT" not in history
    assert LogEntry.objects.get().get_change_message().lower() == "changed new_cert."  # the field's name, no value


def test_deactivate_action_deactivates_selected_users(admin_client):
    marie, pierre, kept = UserFactory(), KeycloakUserFactory(), UserFactory()

    response = admin_client.post(
        USERS, {"action": "deactivate_users", "_selected_action": [marie.pk, pierre.pk]}, follow=True
    )

    assert "Deactivated 2 user(s)." in response.content.decode()
    assert set(User.objects.filter(is_active=False).values_list("pk", flat=True)) == {marie.pk, pierre.pk}
    kept.refresh_from_db()
    assert kept.is_active


def test_deleting_a_user_in_the_admin_cancels_and_deletes_their_simulations(admin_client, submit, user, other_user):
    submit(owner=user)
    kept, _ = submit(owner=other_user)

    response = admin_client.post(reverse("admin:accounts_yaptideuser_delete", args=[user.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not User.objects.filter(pk=user.pk).exists()
    assert list(Simulation.objects.values_list("pk", flat=True)) == [kept.pk]


def test_bulk_deleting_users_goes_through_the_service(admin_client, submit, user):
    submit(owner=user)

    response = admin_client.post(
        USERS, {"action": "delete_selected", "_selected_action": [user.pk], "post": "yes"}, follow=True
    )

    assert response.status_code == 200
    assert not User.objects.filter(pk=user.pk).exists()
    assert not Simulation.objects.exists()


def test_posted_secrets_are_kept_out_of_error_reports(admin_client):
    user = KeycloakUserFactory(username="plgnowak")

    response = admin_client.post(
        reverse("admin:accounts_keycloakuser_change", args=[user.pk]), {"is_active": "on", "new_cert": "C"}
    )

    assert {"new_cert", "new_private_key", "new_password"} <= set(response.wsgi_request.sensitive_post_parameters)


def test_user_list_takes_the_same_number_of_queries_for_few_or_many_users(
    admin_client, submit, django_assert_num_queries
):
    submit(owner=UserFactory())
    admin_client.get(USERS)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(USERS)
    for _ in range(10):
        submit(owner=UserFactory())
        KeycloakUserFactory()

    with django_assert_num_queries(len(few.captured_queries)):
        response = admin_client.get(USERS)

    assert response.status_code == 200


# --- privilege escalation and revocation (issue 14, points 15 and 16) ---------------------------------


@pytest.fixture
def user_manager(client):
    """A staff user who may view and change local users, and nothing else; logged in to `client`."""
    from django.contrib.auth.models import Permission

    manager = YaptideUser.objects.create_user("operator", PASSWORD, is_staff=True)
    manager.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="accounts",
            codename__in=["view_yaptideuser", "change_yaptideuser", "add_yaptideuser"],
        )
    )
    client.force_login(manager)
    return manager


def test_a_user_manager_cannot_make_themselves_superuser(client, user_manager):
    url = reverse("admin:accounts_yaptideuser_change", args=[user_manager.pk])
    from django.contrib.auth.models import Permission

    every = list(Permission.objects.values_list("pk", flat=True))

    response = client.post(
        url,
        {
            "username": "operator",
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "user_permissions": every,
        },
    )

    assert response.status_code == 302
    user_manager = YaptideUser.objects.get(pk=user_manager.pk)
    assert not user_manager.is_superuser
    assert user_manager.user_permissions.count() == 3


def test_a_user_manager_cannot_add_a_superuser_or_change_one(client, user_manager, admin_user):
    response = client.post(
        reverse("admin:accounts_yaptideuser_add"),
        {"username": "mallory", "password1": PASSWORD, "password2": PASSWORD, "is_staff": "on", "is_superuser": "on"},
    )
    assert response.status_code == 302
    assert not YaptideUser.objects.get(username="mallory").is_superuser

    change = client.post(
        reverse("admin:accounts_yaptideuser_change", args=[admin_user.pk]),
        {"username": "admin", "is_active": "on", "is_staff": "on", "is_superuser": "on", "new_password": PASSWORD},
    )
    assert change.status_code == 403
    assert not YaptideUser.objects.get(pk=admin_user.pk).check_password(PASSWORD)


def test_renaming_a_user_in_the_admin_follows_the_username_rule(admin_client):
    UserFactory(username="admin2")
    user = UserFactory(username="marie")

    response = admin_client.post(
        reverse("admin:accounts_yaptideuser_change", args=[user.pk]), {"username": "ADMIN2", "is_active": "on"}
    )

    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    user.refresh_from_db()
    assert user.username == "marie"


def test_deactivating_a_user_on_their_page_revokes_their_refresh_token(admin_client):
    from rest_framework.test import APIClient

    user = YaptideUser.objects.create_user("marie", PASSWORD)
    refresh = APIClient().post("/api/auth/login/", {"username": "marie", "password": PASSWORD}, format="json")
    refresh = refresh.json()["refresh"]

    admin_client.post(reverse("admin:accounts_yaptideuser_change", args=[user.pk]), {"username": "marie"})
    admin_client.post(
        reverse("admin:accounts_yaptideuser_change", args=[user.pk]), {"username": "marie", "is_active": "on"}
    )

    assert APIClient().post("/api/auth/refresh/", {"refresh": refresh}, format="json").status_code == 401


def test_a_user_manager_raises_a_users_limits_on_their_page(client, user_manager, settings):
    from accounts.limits import limits_of

    settings.QUOTA_UNFINISHED_JOBS = 3
    user = UserFactory(username="marie")
    assert limits_of(user).unfinished_jobs == 3

    response = client.post(
        reverse("admin:accounts_yaptideuser_change", args=[user.pk]),
        {
            "username": "marie",
            "is_active": "on",
            "limit_unfinished_jobs": "50",
            "limit_unfinished_tasks": "",
            "limit_stored_megabytes": "",
        },
    )

    assert response.status_code == 302, response.content.decode()[-3000:]
    limits = limits_of(user)
    assert limits.unfinished_jobs == 50
    assert limits.unfinished_tasks == settings.QUOTA_UNFINISHED_TASKS
