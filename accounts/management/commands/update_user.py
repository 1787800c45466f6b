import argparse

from django.core.management.base import BaseCommand, CommandError

from accounts.services import user_update
from yaptide_site.audit import CHANGE, audit_command

from ._helpers import add_password_arguments, add_provider_argument, find_user, read_password, service_errors


class Command(BaseCommand):
    help = (
        "Change a user's password (local users only), active flag or staff flag. The password comes from "
        "--password or standard input (--password-stdin) and is never echoed."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        add_provider_argument(parser, "needed only when a local and a Keycloak user share the name")
        add_password_arguments(parser)
        parser.add_argument(
            "--active", action=argparse.BooleanOptionalAction, help="--no-active deactivates, --active reactivates"
        )
        parser.add_argument(
            "--staff", action=argparse.BooleanOptionalAction, help="--staff lets the user log in to the admin site"
        )

    def handle(self, *args, username, provider, active, staff, **options):
        password = read_password(options, required=False)
        if password is None and active is None and staff is None:
            raise CommandError("nothing to change: give --password/--password-stdin, --[no-]active or --[no-]staff")
        user = find_user(username, provider)
        with service_errors():
            user_update(user=user, password=password, is_active=active, is_staff=staff)
        changed = [
            name for name, value in (("password", password), ("active", active), ("staff", staff)) if value is not None
        ]
        audit_command(command="update_user", obj=user, action=CHANGE, message=f"Changed {', '.join(changed)}.")
        self.stdout.write(f"Updated {user}: {', '.join(changed)}.")
