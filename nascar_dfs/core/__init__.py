"""The science: plain Python that knows nothing of Dagster or HTTP."""
