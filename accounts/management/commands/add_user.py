from django.core.management.base import BaseCommand

from accounts.services import user_create_local
from yaptide_site.audit import ADDITION, audit_command

from ._helpers import add_password_arguments, read_password, service_errors


class Command(BaseCommand):
    help = (
        "Create a local (password) user. The password comes from --password, from standard input "
        "(--password-stdin, or whenever standard input is not a terminal), or a prompt; it is never echoed."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        add_password_arguments(parser)
        parser.add_argument("--staff", action="store_true", help="may log in to the admin site")
        parser.add_argument("--superuser", action="store_true", help="has every permission (implies nothing else)")

    def handle(self, *args, username, staff, superuser, **options):
        password = read_password(options, required=True)
        with service_errors():
            user = user_create_local(username=username, password=password, is_staff=staff, is_superuser=superuser)
        audit_command(command="add_user", obj=user, action=ADDITION, message="Created local user.")
        self.stdout.write(f"Created local user {user.username!r} (id {user.pk}).")
