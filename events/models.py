"""A swarm's event stream and its log (tables kept from when they lived in the swarms app)."""

from __future__ import annotations

from django.db import models


class Stream(models.Model):
    """A swarm's event counter. Its row lock orders the swarm's publishers: taken at the end of a
    transaction (the events are written last), so it is held only for that write and the commit."""

    swarm = models.OneToOneField(
        "swarms.Swarm", primary_key=True, on_delete=models.CASCADE, related_name="stream"
    )
    last_seq = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"stream of {self.swarm_id} at {self.last_seq}"


class Event(models.Model):
    """One entry of the replayable stream: id is global and increasing, seq counts per swarm."""

    id = models.BigAutoField(primary_key=True)
    swarm = models.ForeignKey("swarms.Swarm", on_delete=models.CASCADE, related_name="events", db_index=False)
    seq = models.PositiveBigIntegerField()
    type = models.CharField(max_length=40)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "swarms_event"
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["swarm", "seq"], name="swarms_event_swarm_seq_unique")]
        indexes = [
            models.Index(fields=["swarm", "id"], name="event_swarm_id_idx")
        ]  # replay after lastEventId

    def __str__(self) -> str:
        return f"#{self.id} {self.type}"


class LogEntry(models.Model):
    """A line of a swarm's execution log, served by /logs."""

    class Level(models.IntegerChoices):
        DEBUG = 10, "debug"
        INFO = 20, "info"
        WARN = 30, "warn"
        ERROR = 40, "error"

    id = models.BigAutoField(primary_key=True)
    swarm = models.ForeignKey("swarms.Swarm", on_delete=models.CASCADE, related_name="logs", db_index=False)
    timestamp = models.DateTimeField(auto_now_add=True)
    level = models.PositiveSmallIntegerField(choices=Level.choices, default=Level.INFO)
    source = models.CharField(max_length=64)
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "swarms_logentry"
        ordering = ["id"]
        verbose_name_plural = "log entries"
        indexes = [models.Index(fields=["swarm", "level", "id"], name="log_swarm_level_idx")]  # /logs?level=

    def __str__(self) -> str:
        return f"[{self.get_level_display()}] {self.message[:60]}"
