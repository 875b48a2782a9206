# Takes over the Event and LogEntry models (and their tables) from the swarms app: state only.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [("swarms", "0002_move_events_out")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="LogEntry",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        ("timestamp", models.DateTimeField(auto_now_add=True)),
                        (
                            "level",
                            models.PositiveSmallIntegerField(
                                choices=[(10, "debug"), (20, "info"), (30, "warn"), (40, "error")], default=20
                            ),
                        ),
                        ("source", models.CharField(max_length=64)),
                        ("message", models.TextField()),
                        ("data", models.JSONField(blank=True, default=dict)),
                        (
                            "swarm",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="logs",
                                to="swarms.swarm",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "swarms_logentry",
                        "verbose_name_plural": "log entries",
                        "ordering": ["id"],
                        "indexes": [
                            models.Index(fields=["swarm", "level", "id"], name="log_swarm_level_idx")
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="Event",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        ("seq", models.PositiveBigIntegerField()),
                        ("type", models.CharField(max_length=40)),
                        ("data", models.JSONField(default=dict)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "swarm",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="events",
                                to="swarms.swarm",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "swarms_event",
                        "ordering": ["id"],
                        "indexes": [models.Index(fields=["swarm", "id"], name="event_swarm_id_idx")],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("swarm", "seq"), name="swarms_event_swarm_seq_unique"
                            )
                        ],
                    },
                ),
            ],
        )
    ]
