from django.core.management.base import BaseCommand

from apps.keys.budgets import spend_forget


class Command(BaseCommand):
    help = ("Drops the budgets' spend counters; each is recomputed from the usage records on its key's next "
            "request (after a Redis flush, a restore of the database, or a hand edit of records).")

    def handle(self, *args, **options) -> None:
        dropped = spend_forget()
        self.stdout.write(f"Dropped {dropped} spend counter(s); they are reseeded from the usage records on next use.")
