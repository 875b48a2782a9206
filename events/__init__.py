"""The event stream: every state change of a swarm as an ordered, replayable Event row.

`catalogue` builds every event type (one builder each, one payload shape each); `stream` writes
them in the state change's transaction and pushes them to subscribers after commit.
"""
