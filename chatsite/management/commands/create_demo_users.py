"""Create the local demo accounts (alice, bob, carol and the staff user admin)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

# Fixed, printed passwords: these accounts exist for local use only (see --force).
DEMO_USERS = [
    # (username, password, staff and superuser)
    ("alice", "alice-demo-pw", False),
    ("bob", "bob-demo-pw", False),
    ("carol", "carol-demo-pw", False),
    ("admin", "admin-demo-pw", True),
]


def logins_text() -> str:
    return "\n".join(
        f"  {name:<6} / {password}" + ("   (staff, /admin/)" if staff else "")
        for name, password, staff in DEMO_USERS
    )


class Command(BaseCommand):
    help = "Create or reset the demo users alice, bob, carol and admin (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with DEBUG off. The passwords are public: never on a real site.",
        )

    def handle(self, *args, force: bool = False, **options) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "Refusing to create demo users with well-known passwords while DEBUG is off "
                "(use --force if this really is a throwaway site)."
            )
        users = get_user_model().objects
        for name, password, staff in DEMO_USERS:
            user = users.filter(username=name).first()
            if user is None:
                user = users.create_user(name, password=password)
                action = "created"
            elif user.check_password(password):
                action = "exists"
            else:
                user.set_password(password)
                action = "password reset"
            user.is_staff = user.is_superuser = staff
            user.is_active = True
            user.save()
            self.stdout.write(f"{name}: {action}")
        self.stdout.write("Demo logins:\n" + logins_text())
