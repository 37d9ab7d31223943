"""HTTP and domain metrics, the Dagster collector, health checks, JSON logs and request context."""
