import datetime as dt
import re

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Sum
from django.utils import timezone

from apps.keys.models import ApiKey, Team
from apps.stats.models import UsageRecord

_SPAN = re.compile(r"^(\d+)([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_since(value: str) -> dt.datetime:
    """"7d", "12h", "30m" ago, or an ISO 8601 date or time (UTC when it says no zone)."""
    match = _SPAN.match(value)
    if match:
        return timezone.now() - dt.timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--since: {value!r} is neither like 7d, 12h, 30m nor an ISO 8601 date") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


class Command(BaseCommand):
    help = "Prints spend (USD, from the usage records) per team, key and model."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--team", help="only this team's keys")
        parser.add_argument("--since", default="30d", help="7d, 12h, 30m or an ISO 8601 date (default: 30d)")

    def handle(self, *args, **options) -> None:
        since = parse_since(options["since"])
        records = UsageRecord.objects.filter(created_at__gte=since)
        if options["team"]:
            team = Team.objects.filter(name=options["team"]).first()
            if team is None:
                raise CommandError(f"no team named {options['team']!r}")
            records = records.filter(team_id=team.pk)
        rows = (records.values("team_id", "api_key_id", "key_prefix", "model")
                .annotate(requests=Count("id"), cost=Sum("cost_usd")).order_by("team_id", "api_key_id", "model"))
        teams = dict(Team.objects.values_list("id", "name"))
        keys = dict(ApiKey.objects.values_list("id", "name"))
        self.stdout.write(f"Spend since {since:%Y-%m-%d %H:%M} UTC")
        self.stdout.write(f"{'team':<20} {'key':<28} {'model':<28} {'requests':>9} {'cost_usd':>14}")
        total = 0
        for row in rows:
            team_name = teams.get(row["team_id"], "-") if row["team_id"] else "-"
            # The stored display prefix only: a raw key never exists here.
            key = f"{keys.get(row['api_key_id'], '?')} ({row['key_prefix']}…)"
            self.stdout.write(
                f"{team_name:<20} {key:<28} {row['model'] or '-':<28} {row['requests']:>9} {row['cost']:>14.6f}"
            )
            total += row["cost"] or 0
        self.stdout.write(f"{'total':<78} {total:>24.6f}")
