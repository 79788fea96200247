from django.core.management.base import BaseCommand

from apps.responses.store import responses_prune


class Command(BaseCommand):
    help = "Deletes stored /v1/responses answers past GATEWAY_RESPONSES_RETENTION_DAYS."

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"Deleted {responses_prune()} expired stored responses")
