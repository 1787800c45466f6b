"""Read-only admin pages of what the yaptide import did: which user each legacy account became, and the runs."""

from django.contrib import admin

from .models import ImportedUser, ImportState


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # The rows are what makes a second run skip what the first imported.
        return False


@admin.register(ImportedUser)
class ImportedUserAdmin(ReadOnlyAdmin):
    list_display = ["legacy_username", "auth_provider", "legacy_id", "user", "renamed", "locked_out", "matched"]
    list_filter = ["auth_provider", "renamed", "locked_out", "matched"]
    search_fields = ["legacy_username", "user__username"]
    list_select_related = ["user"]


@admin.register(ImportState)
class ImportStateAdmin(ReadOnlyAdmin):
    list_display = ["source", "keep_user_ids", "keep_cluster_ids", "keep_simulation_ids", "started_at", "finished_at"]
