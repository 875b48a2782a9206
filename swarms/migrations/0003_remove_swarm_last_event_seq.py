from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("swarms", "0002_move_events_out"), ("events", "0002_stream")]

    operations = [migrations.RemoveField(model_name="swarm", name="last_event_seq")]
