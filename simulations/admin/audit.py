"""The audit trail in the admin: every LogEntry (admin changes, admin actions, operator commands), filterable."""

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.urls import NoReverseMatch
from django.utils.html import format_html

from .display import admin_time


@admin.register(LogEntry)
class LogEntryAdmin(admin.ModelAdmin):
    """Read-only: who did what to which object, and when."""

    list_display = ["when", "user", "action", "content_type", "object_link", "change_message_text"]
    list_filter = ["action_flag", "content_type", ("user", admin.RelatedOnlyFieldListFilter), "action_time"]
    search_fields = ["object_repr", "change_message", "user__username", "object_id"]
    list_select_related = ["user", "content_type"]
    date_hierarchy = "action_time"
    ordering = ["-action_time", "-id"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="When", ordering="action_time")
    def when(self, entry):
        return admin_time(entry.action_time)

    @admin.display(description="Action", ordering="action_flag")
    def action(self, entry):
        return {1: "added", 2: "changed", 3: "deleted"}.get(entry.action_flag, "?")

    @admin.display(description="Object", ordering="object_repr")
    def object_link(self, entry):
        try:
            url = entry.get_admin_url() if not entry.is_deletion() else None
        except NoReverseMatch:
            url = None
        return format_html('<a href="{}">{}</a>', url, entry.object_repr) if url else entry.object_repr

    @admin.display(description="What")
    def change_message_text(self, entry):
        return entry.get_change_message()
