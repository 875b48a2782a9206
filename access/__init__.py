"""Who may call: API keys (hashed at rest), authentication, permissions and rate limits.

Imports only core; the interfaces and domain apps import it."""
