"""The REST API of swarms and of the agents and tasks nested under /api/swarm/{id}/."""
