"""What the operator commands share: finding a user, reading a password without echo, tables, service errors."""

import getpass
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.core.management.base import CommandError

from accounts.choices import AuthProvider
from accounts.models import User
from yaptide_site.errors import ServiceError

PROVIDERS = {
    "local": AuthProvider.YAPTIDE,
    "keycloak": AuthProvider.KEYCLOAK,
    AuthProvider.YAPTIDE.value: AuthProvider.YAPTIDE,
    AuthProvider.KEYCLOAK.value: AuthProvider.KEYCLOAK,
}


def add_provider_argument(parser, help_text: str = "auth provider of the user: local or keycloak") -> None:
    parser.add_argument("--provider", choices=sorted(PROVIDERS), help=help_text)


def find_user(username: str, provider: str | None) -> User:
    """The user of this name (and provider, if given); an error if there is none or the name is ambiguous."""
    users = User.objects.filter(username=username)
    if provider:
        users = users.filter(auth_provider=PROVIDERS[provider])
    found = list(users[:2])
    if not found:
        where = f" with provider {provider}" if provider else ""
        raise CommandError(f"no user named {username!r}{where}")
    if len(found) > 1:
        raise CommandError(f"both a local and a Keycloak user are named {username!r}; pass --provider")
    return found[0]


def add_password_arguments(parser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--password", help="the password (visible in the process list; prefer --password-stdin)")
    group.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input (first line)"
    )


def read_password(options: dict, *, required: bool) -> str | None:
    """The password from --password, from stdin (--password-stdin, or stdin not a terminal), or a silent prompt."""
    if options.get("password") is not None:
        return options["password"]
    stdin = sys.stdin
    if options.get("password_stdin") or (required and not stdin.isatty()):
        password = stdin.readline().rstrip("\r\n")
        if not password:
            raise CommandError("no password on standard input")
        return password
    if not required:
        return None
    password = getpass.getpass("Password: ")
    if password != getpass.getpass("Password (again): "):
        raise CommandError("the two passwords differ")
    return password


@contextmanager
def service_errors() -> Iterator[None]:
    """Turns a service's refusal into a CommandError: its message on stderr and a non-zero exit."""
    try:
        yield
    except ServiceError as error:
        raise CommandError(error.message) from None


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Rows as left-aligned columns under a header line."""
    cells = [list(map(str, headers))] + [["-" if value is None else str(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in cells
    )
