"""The runtime (a Django app without models): planner, scheduler, runner, the Claude gateway,
leases and watchdogs, housekeeping (recovery only), the resource guard and the Dramatiq actors.

It calls the domain apps' services for every state change and is reached only through Dramatiq
messages (core.jobs) and the embedded workers, so nothing below it imports it.
"""
