from django.db import migrations, models

# Frozen copy of apps/stats/rollups.py's rebuild SQL: existing records get their rollups.
BACKFILL = [
    f"""INSERT INTO stats_usagerollup (span, bucket, provider, model, cache, requests, throttled, errors,
        prompt_tokens, completion_tokens, total_tokens, cost_usd, latency_ms_sum)
    SELECT '{span}', date_trunc('{unit}', created_at, 'UTC'), provider, model, cache, COUNT(*),
        COUNT(*) FILTER (WHERE error_code = 'rate_limit_exceeded'), COUNT(*) FILTER (WHERE status_code >= 400),
        SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(cost_usd), SUM(latency_ms)
    FROM stats_usagerecord GROUP BY 2, 3, 4, 5;
    INSERT INTO stats_keyrollup (span, bucket, key_id, key_prefix, requests, throttled, total_tokens)
    SELECT '{span}', date_trunc('{unit}', created_at, 'UTC'), COALESCE(api_key_id, 0), MAX(key_prefix), COUNT(*),
        COUNT(*) FILTER (WHERE error_code = 'rate_limit_exceeded'), SUM(total_tokens)
    FROM stats_usagerecord GROUP BY 2, 3;"""
    for span, unit in (("h", "hour"), ("d", "day"))
]


class Migration(migrations.Migration):

    dependencies = [
        ('stats', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='KeyRollup',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('span', models.CharField(choices=[('h', 'hour'), ('d', 'day')], max_length=1)),
                ('bucket', models.DateTimeField()),
                ('key_id', models.BigIntegerField()),
                ('key_prefix', models.CharField(blank=True, max_length=16)),
                ('requests', models.BigIntegerField(default=0)),
                ('throttled', models.BigIntegerField(default=0)),
                ('total_tokens', models.BigIntegerField(default=0)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('span', 'bucket', 'key_id'), name='stats_keyrollup_key')],
            },
        ),
        migrations.CreateModel(
            name='UsageRollup',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('span', models.CharField(choices=[('h', 'hour'), ('d', 'day')], max_length=1)),
                ('bucket', models.DateTimeField(help_text='Start of the hour or day, UTC.')),
                ('provider', models.CharField(blank=True, max_length=50)),
                ('model', models.CharField(blank=True, max_length=100)),
                ('cache', models.CharField(blank=True, max_length=10)),
                ('requests', models.BigIntegerField(default=0)),
                ('throttled', models.BigIntegerField(default=0)),
                ('errors', models.BigIntegerField(default=0)),
                ('prompt_tokens', models.BigIntegerField(default=0)),
                ('completion_tokens', models.BigIntegerField(default=0)),
                ('total_tokens', models.BigIntegerField(default=0)),
                ('cost_usd', models.DecimalField(decimal_places=8, default=0, max_digits=20)),
                ('latency_ms_sum', models.FloatField(default=0)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('span', 'bucket', 'provider', 'model', 'cache'), name='stats_usagerollup_key')],
            },
        ),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop),
    ]
