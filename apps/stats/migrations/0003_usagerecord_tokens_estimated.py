from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("stats", "0002_usage_rollups")]

    operations = [
        migrations.AddField(
            model_name="usagerecord",
            name="tokens_estimated",
            field=models.BooleanField(
                default=False,
                help_text="The upstream never reported usage (a stream cut short): tokens estimated from the text.",
            ),
        ),
    ]
