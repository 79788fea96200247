from django.core.management.base import BaseCommand, CommandError

from apps.keys.management.commands.create_team import add_budget_arguments, budget_option
from apps.keys.models import BudgetPeriod, Team
from apps.keys.services import key_create


class Command(BaseCommand):
    help = "Creates an API key and prints the raw key alone on the last line (it is not stored)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")
        parser.add_argument("--admin", action="store_true", help="may use the admin API, /metrics and /stats")
        parser.add_argument("--rpm", type=int, help="requests per minute (default: gateway.yaml)")
        parser.add_argument("--tpm", type=int, help="tokens per minute (default: gateway.yaml)")
        parser.add_argument("--expires", type=int, metavar="DAYS", help="expire after DAYS days")
        parser.add_argument("--models", default="", help="comma-separated models this key may use (default: all)")
        parser.add_argument("--namespace", default="", help="cache namespace shared with other keys")
        parser.add_argument("--team", help="the team that owns the key (its budget and bounds apply too)")
        add_budget_arguments(parser)

    def handle(self, *args, **options) -> None:
        for option in ("rpm", "tpm", "expires"):
            if options[option] is not None and options[option] < 1:
                raise CommandError(f"--{option} must be a positive integer")
        team = None
        if options["team"]:
            team = Team.objects.filter(name=options["team"]).first()
            if team is None:
                raise CommandError(f"no team named {options['team']!r} (manage.py create_team)")
        api_key, raw_key = key_create(
            name=options["name"],
            is_admin=options["admin"],
            rpm=options["rpm"],
            tpm=options["tpm"],
            expires_in_days=options["expires"],
            allowed_models=[m.strip() for m in options["models"].split(",") if m.strip()],
            cache_namespace=options["namespace"],
            team=team,
            budget_usd=budget_option(options["budget_usd"]),
            budget_period=options["budget_period"] or BudgetPeriod.LIFETIME,
        )
        kind = "admin key" if api_key.is_admin else "key"
        self.stdout.write(f"Created {kind} {api_key.name!r} ({api_key.prefix}…). Store it now; it is not shown again:")
        self.stdout.write(raw_key)
