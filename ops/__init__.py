"""Operations: health and readiness checks and their API, Prometheus metrics, WebSocket presence, the
worker command."""
