"""Admin for users: one list of all users, a page per kind, local accounts made through the service.

Keycloak users' cert and private key are never shown: the page says whether each is set and offers a
write-only field to replace it.
"""

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.debug import sensitive_post_parameters
from polymorphic.admin import PolymorphicChildModelAdmin, PolymorphicChildModelFilter, PolymorphicParentModelAdmin

from yaptide_site.audit import CHANGE, audit
from yaptide_site.errors import ServiceError

from .models import KeycloakUser, User, UserLimits, YaptideUser
from .services import local_username_checked, user_create_local, user_remove, user_tokens_revoke, user_update

# Only a superuser may grant these: a staff user who may change users must not raise themselves (or anyone).
PRIVILEGE_FIELDS = ["is_superuser", "groups", "user_permissions"]


def run_service(form: forms.Form, call):
    """Runs a service from a form's clean(); its refusal becomes a form error instead of a 500."""
    try:
        with transaction.atomic():
            return call()
    except ServiceError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return None


class LocalUserAddForm(forms.ModelForm):
    """Creates a local user through accounts.services.user_create_local (which validates name and password)."""

    username = forms.CharField(max_length=150)
    password1 = forms.CharField(label="Password", strip=False, widget=forms.PasswordInput(render_value=False))
    password2 = forms.CharField(label="Password (again)", strip=False, widget=forms.PasswordInput(render_value=False))
    is_staff = forms.BooleanField(required=False, label="Staff (may log in to this admin site)")
    is_superuser = forms.BooleanField(required=False, label="Superuser (has every permission)")

    class Meta:
        model = YaptideUser
        fields: list[str] = []

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        if cleaned["password1"] != cleaned["password2"]:
            self.add_error("password2", "The two passwords differ.")
            return cleaned
        # The service is the validator; the admin view's transaction makes this one unit with the log entry.
        self.created_user = run_service(
            self,
            lambda: user_create_local(
                username=cleaned["username"],
                password=cleaned["password1"],
                is_staff=cleaned["is_staff"],
                is_superuser=cleaned.get("is_superuser", False),
            ),
        )
        return cleaned


LIMIT_FIELDS = {
    "limit_unfinished_jobs": "unfinished_jobs",
    "limit_unfinished_tasks": "unfinished_tasks",
    "limit_stored_megabytes": "stored_megabytes",
}
LIMITS_FIELDSET = ("Limits (empty: the site default)", {"fields": list(LIMIT_FIELDS)})


class UserLimitsFormMixin(forms.Form):
    """The user's own quotas (accounts.models.UserLimits) on their page; whoever may change the user may raise them."""

    limit_unfinished_jobs = forms.IntegerField(required=False, min_value=0, label="Unfinished jobs")
    limit_unfinished_tasks = forms.IntegerField(required=False, min_value=0, label="Tasks of unfinished jobs")
    limit_stored_megabytes = forms.IntegerField(required=False, min_value=0, label="Stored megabytes")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        own = UserLimits.objects.filter(user_id=self.instance.pk).first() if self.instance.pk else None
        for field, column in LIMIT_FIELDS.items():
            self.fields[field].initial = getattr(own, column, None)

    def save_limits(self, user: User) -> None:
        if not any(field in self.changed_data for field in LIMIT_FIELDS):
            return
        values = {column: self.cleaned_data.get(field) for field, column in LIMIT_FIELDS.items()}
        UserLimits.objects.update_or_create(user=user, defaults=values)


class LocalUserChangeForm(UserLimitsFormMixin, forms.ModelForm):
    """Edits flags of a local user; a new password, if given, goes through accounts.services.user_update."""

    new_password = forms.CharField(
        label="New password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the current password.",
    )

    class Meta:
        model = YaptideUser
        fields = ["username", "is_active", "is_staff", "is_superuser", "groups", "user_permissions"]

    def clean_username(self):
        try:
            return local_username_checked(self.cleaned_data["username"], user=self.instance)
        except ServiceError as error:
            raise forms.ValidationError(error.message) from None

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("new_password")
        if password and not self.errors:
            run_service(self, lambda: user_update(user=self.instance, password=password))
        return cleaned


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders its value, not even after a form error."""

    def format_value(self, value):
        return None


class KeycloakUserChangeForm(UserLimitsFormMixin, forms.ModelForm):
    """Edits flags of a Keycloak user; cert and private key can be replaced but are never displayed."""

    new_cert = forms.CharField(
        required=False, strip=False, widget=WriteOnlyTextarea, help_text="Leave empty to keep the current cert."
    )
    new_private_key = forms.CharField(
        required=False, strip=False, widget=WriteOnlyTextarea, help_text="Leave empty to keep the current key."
    )

    class Meta:
        model = KeycloakUser
        fields = ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]

    def save(self, commit=True):
        if self.cleaned_data.get("new_cert"):
            self.instance.cert = self.cleaned_data["new_cert"]
        if self.cleaned_data.get("new_private_key"):
            self.instance.private_key = self.cleaned_data["new_private_key"]
        return super().save(commit)


def owned_rows_go_along(deleted_objects):
    """A user's simulations, tasks and payloads are removed with them by the service; no extra permission asked."""
    deleted, counts, _, protected = deleted_objects
    return deleted, counts, set(), protected


def simulations_link(user: User) -> str:
    url = reverse("admin:simulations_simulation_changelist") + f"?user__id__exact={user.pk}"
    count = getattr(user, "simulation_count", None)
    label = "simulations" if count is None else f"{count} simulation{'s' if count != 1 else ''}"
    return format_html('<a href="{}">{}</a>', url, label)


class UserChildAdmin(PolymorphicChildModelAdmin):
    """What both kinds of user pages share: flags, dates, a link to the user's simulations, removal via service."""

    base_model = User
    readonly_fields = ["auth_provider", "last_login", "date_joined", "simulations"]

    # Passwords and keys posted to these pages never appear in error reports.
    @method_decorator(
        sensitive_post_parameters("password1", "password2", "new_password", "new_cert", "new_private_key")
    )
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return super().changeform_view(request, object_id, form_url, extra_context)

    @admin.display(description="Simulations")
    def simulations(self, user):
        return simulations_link(user)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += [name for name in PRIVILEGE_FIELDS if name not in fields]
        return fields

    def has_change_permission(self, request, obj=None):
        # Changing a superuser (their password, say) would be a way to become one.
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            user_tokens_revoke(user=obj)
        if change and isinstance(form, UserLimitsFormMixin):
            form.save_limits(obj)

    def delete_model(self, request, obj):
        user_remove(user=obj)

    def get_deleted_objects(self, objs, request):
        return owned_rows_go_along(super().get_deleted_objects(objs, request))

    def delete_queryset(self, request, queryset):
        for user in queryset:
            user_remove(user=user)


@admin.register(YaptideUser)
class YaptideUserAdmin(UserChildAdmin):
    form = LocalUserChangeForm
    add_form = LocalUserAddForm
    fieldsets = [
        (None, {"fields": ["username", "auth_provider", "new_password", "simulations"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        LIMITS_FIELDSET,
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"fields": ["username", "password1", "password2", "is_staff", "is_superuser"]})]
    filter_horizontal = ["groups", "user_permissions"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else super().get_readonly_fields(request, obj)

    def get_fieldsets(self, request, obj=None):
        if obj is not None:
            return self.fieldsets
        fields = [
            name for name in self.add_fieldsets[0][1]["fields"] if request.user.is_superuser or name != "is_superuser"
        ]
        return [(None, {"fields": fields})]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None and not request.user.is_superuser:
            form.base_fields.pop("is_superuser", None)  # a declared field: present unless removed
        return form

    def save_form(self, request, form, change):
        if not change:
            return form.created_user
        return super().save_form(request, form, change)

    def save_model(self, request, obj, form, change):
        if change:  # a new user was saved by the service in the form's clean()
            super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        if change:
            super().save_related(request, form, formsets, change)


@admin.register(KeycloakUser)
class KeycloakUserAdmin(UserChildAdmin):
    form = KeycloakUserChangeForm
    readonly_fields = ["username", *UserChildAdmin.readonly_fields, "cert_status", "private_key_status"]
    fieldsets = [
        (None, {"fields": ["username", "auth_provider", "simulations"]}),
        ("Cluster credentials", {"fields": [("cert_status", "new_cert"), ("private_key_status", "new_private_key")]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        LIMITS_FIELDSET,
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    filter_horizontal = ["groups", "user_permissions"]

    def has_add_permission(self, request):
        return False  # made on first Keycloak login

    @admin.display(description="Cert")
    def cert_status(self, user):
        return "set" if user.cert else "not set"

    @admin.display(description="Private key")
    def private_key_status(self, user):
        return "set" if user.private_key else "not set"


@admin.register(User)
class UserAdmin(PolymorphicParentModelAdmin):
    """All users in one list; each row opens the page of its own kind."""

    base_model = User
    child_models = [YaptideUser, KeycloakUser]
    list_display = ["username", "auth_provider", "is_active", "is_staff", "is_superuser", "date_joined", "simulations"]
    list_filter = [PolymorphicChildModelFilter, "is_active", "is_staff", "is_superuser"]
    search_fields = ["username"]
    ordering = ["username", "auth_provider"]
    actions = ["deactivate_users"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(simulation_count=Count("simulations"))

    @admin.display(description="Simulations", ordering="simulation_count")
    def simulations(self, user):
        return simulations_link(user)

    @admin.action(description="Deactivate selected users", permissions=["change"])
    def deactivate_users(self, request, queryset):
        users = list(queryset.filter(is_active=True))
        for user in users:
            user_update(user=user, is_active=False)
            audit(user=request.user, obj=user, action=CHANGE, message="Deactivated (admin action).")
        self.message_user(request, f"Deactivated {len(users)} user(s).", messages.SUCCESS)

    def get_deleted_objects(self, objs, request):
        return owned_rows_go_along(super().get_deleted_objects(objs, request))

    def delete_queryset(self, request, queryset):
        """Bulk delete goes through accounts.services.user_remove (cancels and deletes their simulations)."""
        for user in queryset:
            user_remove(user=user)
