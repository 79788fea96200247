from django.core.management.base import BaseCommand

from apps.keys.models import ApiKey


class Command(BaseCommand):
    help = "Lists API keys (display prefixes only; raw keys are never stored)."

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"{'PREFIX':<14} {'NAME':<24} {'ADMIN':<6} {'RPM':>6} {'TPM':>8}  STATUS")
        for key in ApiKey.objects.order_by("created_at"):
            status = "revoked" if key.revoked_at else ("active" if key.is_usable() else "expired")
            self.stdout.write(
                f"{key.prefix:<14} {key.name[:24]:<24} {'yes' if key.is_admin else 'no':<6} "
                f"{key.rpm or '-':>6} {key.tpm or '-':>8}  {status}"
            )
