from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from documents.models import ApiToken


class Command(BaseCommand):
    help = "Create an API token for an existing user; prints the token alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="a label for the token")

    def handle(self, *args, username, name, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        _, token = ApiToken.issue(user, name=name)
        self.stderr.write(f"Token for {username} (shown once; store it now):")
        self.stdout.write(token)
