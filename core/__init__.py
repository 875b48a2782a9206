"""The bottom layer: ids, errors, validation, responses, logging, jobs and the event push primitive.

Imports nothing of the project; every other package may import it."""
