"""HTTP and WebSocket routes. Thin: they parse, call a service, and shape the answer."""
