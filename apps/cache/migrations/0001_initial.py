"""The semantic cache table, created only where pgvector is available.

DESIGN.md: a DATABASE_URL server without the `vector` extension must still migrate and run,
with the semantic cache disabled. So the model exists in Django's migration state always,
but its table (and the extension) are created by RunPython only when the server offers
the extension and lets us install it. If pgvector is added to that server later:
`python manage.py migrate gateway_cache zero && python manage.py migrate gateway_cache`.
"""

import logging

import django.utils.timezone
import pgvector.django.indexes
import pgvector.django.vector
from django.db import DatabaseError, migrations, models, transaction

logger = logging.getLogger("gateway.cache")
TABLE = "gateway_cache_semanticcacheentry"


def vector_extension_ready(schema_editor) -> bool:
    """True once `vector` is installed in this database (installing it if we may)."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT installed_version FROM pg_available_extensions WHERE name = 'vector'")
        row = cursor.fetchone()
    if row is None:
        logger.warning("pgvector is not available on this server: the semantic cache stays disabled")
        return False
    if row[0] is not None:
        return True
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except DatabaseError as exc:  # e.g. not allowed to create extensions
        logger.warning("cannot create the vector extension (%s): the semantic cache stays disabled", exc)
        return False
    return True


def create_table(apps, schema_editor) -> None:
    if vector_extension_ready(schema_editor):
        schema_editor.create_model(apps.get_model("gateway_cache", "SemanticCacheEntry"))


def drop_table(apps, schema_editor) -> None:
    schema_editor.execute(f"DROP TABLE IF EXISTS {TABLE}")


class Migration(migrations.Migration):

    initial = True

    dependencies = []

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SemanticCacheEntry",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("namespace", models.CharField(max_length=100)),
                        ("scope", models.CharField(help_text="SHA-256 of the request minus its final user message", max_length=64)),
                        ("question", models.TextField(help_text="The final user message, for the verifier")),
                        ("embedding", pgvector.django.vector.VectorField(dimensions=384)),
                        ("completion", models.JSONField()),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("expires_at", models.DateTimeField()),
                    ],
                    options={
                        "verbose_name": "semantic cache entry",
                        "verbose_name_plural": "semantic cache entries",
                        "indexes": [
                            models.Index(fields=["scope", "namespace"], name="semcache_scope_idx"),
                            models.Index(fields=["namespace"], name="semcache_namespace_idx"),
                            models.Index(fields=["expires_at"], name="semcache_expires_idx"),
                            pgvector.django.indexes.HnswIndex(
                                ef_construction=64, fields=["embedding"], m=16, name="semcache_embedding_hnsw",
                                opclasses=["vector_cosine_ops"],
                            ),
                        ],
                    },
                ),
            ],
        ),
        # A separate operation, so that its `apps` already holds the model above.
        migrations.RunPython(create_table, drop_table),
    ]
