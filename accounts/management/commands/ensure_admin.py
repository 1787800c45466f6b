import secrets

from django.core.management.base import BaseCommand

from accounts.models import User
from accounts.services import user_create_local
from yaptide_site.audit import COMMAND_USERNAME


class Command(BaseCommand):
    help = "On a database with no users, create the superuser `admin` with a random password and print it once."

    def handle(self, *args, **options):
        # The audit trail's own user (commands' entries belong to it) is no sign that anyone can sign in.
        if User.objects.exclude(username=COMMAND_USERNAME, is_active=False).exists():
            return
        password = secrets.token_urlsafe(16)
        user_create_local(username="admin", password=password, is_staff=True, is_superuser=True)
        self.stdout.write(f"Created superuser 'admin' with password: {password}")
        self.stdout.write("It is shown only this once; change it in the admin site.")
