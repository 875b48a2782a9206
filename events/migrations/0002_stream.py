# The per-swarm event counter moves from the swarm row to a row of its own, so publishing a
# task's events no longer takes the swarm's row lock.

import django.db.models.deletion
from django.db import migrations, models


def copy_counters(apps, schema_editor):
    Swarm = apps.get_model("swarms", "Swarm")
    Stream = apps.get_model("events", "Stream")
    Stream.objects.bulk_create(
        [Stream(swarm_id=pk, last_seq=seq) for pk, seq in Swarm.objects.values_list("id", "last_event_seq")],
        batch_size=1000,
    )


def copy_back(apps, schema_editor):
    Swarm = apps.get_model("swarms", "Swarm")
    Stream = apps.get_model("events", "Stream")
    for swarm_id, seq in Stream.objects.values_list("swarm_id", "last_seq"):
        Swarm.objects.filter(pk=swarm_id).update(last_event_seq=seq)


class Migration(migrations.Migration):
    dependencies = [("events", "0001_initial"), ("swarms", "0002_move_events_out")]

    operations = [
        migrations.CreateModel(
            name="Stream",
            fields=[
                (
                    "swarm",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="stream",
                        serialize=False,
                        to="swarms.swarm",
                    ),
                ),
                ("last_seq", models.PositiveBigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(copy_counters, copy_back),
    ]
