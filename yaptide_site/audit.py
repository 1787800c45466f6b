"""The audit trail: who changed what, and when, on Django's admin LogEntry, for admin actions and operator
commands alike. Entries show in each object's History page and in the admin's "Log entries" list.

Commands are not run by a user of the site: their entries belong to the inactive local user `manage.py`
(which cannot sign in), and their message names the command and the operating-system user who ran it.
"""

import getpass
import socket

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType

COMMAND_USERNAME = "manage.py"
__all__ = ["ADDITION", "CHANGE", "DELETION", "audit", "audit_command", "command_user"]


def _content_type(obj) -> ContentType:
    """The model the object's admin page is for: a polymorphic row's own child class, not its base."""
    ctype_id = getattr(obj, "polymorphic_ctype_id", None)
    if ctype_id:
        return ContentType.objects.get_for_id(ctype_id)
    return ContentType.objects.get_for_model(obj, for_concrete_model=False)


def audit(*, user, obj, action: int, message: str) -> LogEntry:
    """Records that `user` added, changed or deleted `obj` (call it before a delete: the object is named)."""
    return LogEntry.objects.create(
        user_id=user.pk,
        content_type=_content_type(obj),
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        action_flag=action,
        change_message=message,
    )


def command_user():
    """The inactive, password-less local user that operator commands' entries belong to."""
    from accounts.models import YaptideUser

    user, created = YaptideUser.objects.get_or_create(username=COMMAND_USERNAME, defaults={"is_active": False})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def _operator() -> str:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "?"
    return f"{name}@{socket.gethostname()}"


def audit_command(*, command: str, obj, action: int, message: str) -> LogEntry:
    """Records a change made by an operator command, with the command and the OS user who ran it."""
    return audit(
        user=command_user(), obj=obj, action=action, message=f"{message} (manage.py {command}, by {_operator()})"
    )
