"""Platform library: what the Dagster definitions, the CLI and the API share."""
