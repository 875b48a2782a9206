# ApiKey moved to the access app. Only the migration state changes here: the table
# claudeflow_site_apikey and its rows stay, and access.0001 takes the model over with that db_table.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('claudeflow_site', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='ApiKey')],
            database_operations=[],
        ),
    ]
