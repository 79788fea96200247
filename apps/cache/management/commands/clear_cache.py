from django.core.management.base import BaseCommand

from apps.cache.services import cache_clear


class Command(BaseCommand):
    help = "Empties the exact and/or semantic cache (both by default), optionally for one namespace only."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--exact", action="store_true", help="clear the exact cache (Redis)")
        parser.add_argument("--semantic", action="store_true", help="clear the semantic cache (Postgres)")
        parser.add_argument("--namespace", help="only this cache namespace (e.g. key-12, or a shared name)")

    def handle(self, *args, **options) -> None:
        both = options["exact"] == options["semantic"]
        cleared = cache_clear(
            exact_cache=options["exact"] or both,
            semantic_cache=options["semantic"] or both,
            namespace=options["namespace"],
        )
        where = f" in namespace {options['namespace']!r}" if options["namespace"] else ""
        self.stdout.write(
            f"Cleared {cleared['exact_cache']} exact and {cleared['semantic_cache']} semantic cache entries{where}."
        )
