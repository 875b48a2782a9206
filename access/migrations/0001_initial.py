# ApiKey, taken over from claudeflow_site (its 0002 drops the model from its own state). The table,
# its rows, its index and constraints already exist under their old names, so nothing touches the
# database: a new database gets the table from claudeflow_site.0001, an existing one keeps it.

import core.ids
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('claudeflow_site', '0002_apikey_moves_to_access'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='ApiKey',
                    fields=[
                        ('id', models.CharField(default=core.ids.key_id, editable=False, max_length=40, primary_key=True, serialize=False)),
                        ('name', models.CharField(max_length=100)),
                        ('prefix', models.CharField(help_text='First characters of the key, to recognise it', max_length=16)),
                        ('key_hash', models.CharField(editable=False, max_length=64, unique=True)),
                        ('permissions', models.JSONField(default=list)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                        ('last_used_at', models.DateTimeField(blank=True, editable=False, null=True)),
                        ('usage_count', models.PositiveIntegerField(default=0, editable=False)),
                        ('expires_at', models.DateTimeField(blank=True, null=True)),
                        ('revoked_at', models.DateTimeField(blank=True, null=True)),
                        ('owner', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='api_keys', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': 'API key',
                        'db_table': 'claudeflow_site_apikey',
                        'ordering': ['-created_at'],
                        'indexes': [models.Index(fields=['owner', '-created_at'], name='apikey_owner_created_idx')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
