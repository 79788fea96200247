from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from apps.keys.models import BudgetPeriod, Team
from apps.keys.services import team_create


def budget_option(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise CommandError(f"--budget-usd must be a number of dollars, not {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise CommandError("--budget-usd must be zero or more")
    return amount


def add_budget_arguments(parser) -> None:
    parser.add_argument("--budget-usd", help="spend limit in USD (default: none)")
    parser.add_argument("--budget-period", choices=["day", "month"], default="",
                        help="the budget resets every UTC day or month (default: never, a lifetime budget)")


class Command(BaseCommand):
    help = "Creates a team: keys created with --team NAME share its budget and its bounds."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")
        add_budget_arguments(parser)
        parser.add_argument("--models", default="", help="comma-separated models the team's keys may use (default: all)")
        parser.add_argument("--rpm", type=int, help="requests per minute per key (default: gateway.yaml)")
        parser.add_argument("--tpm", type=int, help="tokens per minute per key (default: gateway.yaml)")

    def handle(self, *args, **options) -> None:
        if Team.objects.filter(name=options["name"]).exists():
            raise CommandError(f"a team named {options['name']!r} exists already")
        for option in ("rpm", "tpm"):
            if options[option] is not None and options[option] < 1:
                raise CommandError(f"--{option} must be a positive integer")
        team = team_create(
            name=options["name"],
            budget_usd=budget_option(options["budget_usd"]),
            budget_period=options["budget_period"] or BudgetPeriod.LIFETIME,
            allowed_models=[m.strip() for m in options["models"].split(",") if m.strip()],
            rpm=options["rpm"],
            tpm=options["tpm"],
        )
        budget = f"${team.budget_usd} per {team.budget_period or 'lifetime'}" if team.budget_usd is not None else "no budget"
        self.stdout.write(f"Created team {team.name!r} (id {team.pk}, {budget}).")
