"""Amazon SQS as the Dramatiq broker (BROKER_URL=sqs://...), for workers that run without Redis,
e.g. beside a Lambda API function (README "Serverless (AWS Lambda)").

dramatiq-sqs's broker, with what this project relies on from a broker:
- a lost connection surfaces as dramatiq's BrokerConnectionError (a 503 in a request, a
  reconnect in a worker), as Redis's does, instead of a botocore error that would end a request
  with a 500 or a consumer thread;
- a delay beyond SQS's 15 minutes is shortened to 15 minutes instead of refusing the message: the
  actors are safe to run early or twice (they re-check state), and a refused retry would be lost;
- `ping()` and `queue_depth()` for /api/ready and the queue-depth metric.

Imported only when BROKER_URL names SQS: boto3 stays out of every other process.
"""

from __future__ import annotations

import logging
from typing import Any

import botocore.exceptions
import dramatiq
from dramatiq.errors import BrokerConnectionError
from dramatiq_sqs import broker as sqs_broker

logger = logging.getLogger(__name__)

MAX_DELAY_MS = sqs_broker.MAX_DELAY_SECONDS * 1000

# botocore's "could not talk to SQS" errors (DNS, refused, reset, timeouts)
UNREACHABLE = (
    botocore.exceptions.EndpointConnectionError,
    botocore.exceptions.ConnectionClosedError,
    botocore.exceptions.ConnectTimeoutError,
    botocore.exceptions.ReadTimeoutError,
)


def _unreachable(exc: Exception) -> BrokerConnectionError:
    return BrokerConnectionError(f"SQS unreachable: {exc}")


class SQSConsumer(sqs_broker.SQSConsumer):
    def __next__(self) -> dramatiq.Message | None:
        try:
            return super().__next__()
        except UNREACHABLE as exc:  # the worker sleeps, then opens a new consumer
            raise _unreachable(exc) from exc

    def ack(self, message: Any) -> None:
        try:
            super().ack(message)
        except UNREACHABLE as exc:
            raise _unreachable(exc) from exc

    def nack(self, message: Any) -> None:
        try:
            super().nack(message)
        except UNREACHABLE as exc:
            raise _unreachable(exc) from exc

    def requeue(self, messages: Any) -> None:
        try:
            super().requeue(list(messages))
        except UNREACHABLE as exc:
            raise _unreachable(exc) from exc


class SQSBroker(sqs_broker.SQSBroker):
    @property
    def consumer_class(self) -> type[SQSConsumer]:
        return SQSConsumer

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 20_000) -> dramatiq.Consumer:
        try:
            return super().consume(queue_name, prefetch, timeout)
        except UNREACHABLE as exc:
            raise _unreachable(exc) from exc

    def enqueue(self, message: dramatiq.Message, *, delay: int | None = None) -> dramatiq.Message:
        if delay is not None and delay > MAX_DELAY_MS:
            logger.info(
                "SQS delays are at most 15 minutes: %s on %s runs after %d s instead of %d s",
                message.actor_name,
                message.queue_name,
                MAX_DELAY_MS // 1000,
                delay // 1000,
            )
            delay = MAX_DELAY_MS
        try:
            return super().enqueue(message, delay=delay)
        except UNREACHABLE as exc:
            raise _unreachable(exc) from exc

    def _queue(self, queue_name: str) -> Any:
        try:
            self._ensure_queue(queue_name)
        except UNREACHABLE as exc:
            raise _unreachable(exc) from exc
        return self.queues[queue_name]

    def ping(self) -> str:
        """Raises BrokerConnectionError unless SQS answers (for /api/ready)."""
        try:
            self.sqs.meta.client.list_queues(QueueNamePrefix=self.namespace or "", MaxResults=1)
        except UNREACHABLE as exc:
            raise _unreachable(exc) from exc
        return "sqs"

    def queue_depth(self, queue_name: str) -> int:
        """Messages waiting (visible or delayed) in one declared queue; SQS's count is approximate."""
        queue = self._queue(queue_name)
        try:
            queue.load()
        except UNREACHABLE as exc:
            raise _unreachable(exc) from exc
        return int(queue.attributes["ApproximateNumberOfMessages"]) + int(
            queue.attributes.get("ApproximateNumberOfMessagesDelayed", 0)
        )
