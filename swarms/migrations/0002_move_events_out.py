# Event and LogEntry now belong to the events app; their tables stay where they are.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("swarms", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Event"), migrations.DeleteModel(name="LogEntry")],
            database_operations=[],
        )
    ]
