from django.core.management.base import BaseCommand, CommandError

from apps.keys.models import ApiKey
from apps.keys.services import key_revoke


class Command(BaseCommand):
    help = "Revokes the API key whose display prefix starts with PREFIX."

    def add_arguments(self, parser) -> None:
        parser.add_argument("prefix")

    def handle(self, *args, **options) -> None:
        matches = list(ApiKey.objects.filter(prefix__startswith=options["prefix"]))
        if not matches:
            raise CommandError(f"no API key starts with {options['prefix']!r}")
        if len(matches) > 1:
            raise CommandError(f"{len(matches)} keys start with {options['prefix']!r}; give more characters")
        key_revoke(api_key=matches[0])
        self.stdout.write(f"Revoked {matches[0]}")
