"""The API's side of Dagster: the launcher protocol and its data types, the Dagster client, and
the background relay and reconciler that are the only callers of a launcher."""
