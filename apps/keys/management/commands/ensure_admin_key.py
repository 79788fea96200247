from django.core.management.base import BaseCommand

from apps.keys.services import key_ensure_admin


class Command(BaseCommand):
    help = "Creates a first admin API key when none exists and prints it (used by `make run`)."

    def handle(self, *args, **options) -> None:
        raw_key = key_ensure_admin()
        if raw_key is None:
            self.stdout.write("An admin API key already exists (list them with `manage.py list_api_keys`).")
            return
        self.stdout.write("Created the first admin API key. Store it now; it is not shown again:")
        self.stdout.write(raw_key)
