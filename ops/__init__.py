"""Operations: health and readiness checks, Prometheus metrics, WebSocket presence."""
