"""The API's business rules over its own tables: submissions, the request store, keys, rate
limits, webhooks, audit, slates and the spec preview. Nothing here talks to Dagster's GraphQL."""
