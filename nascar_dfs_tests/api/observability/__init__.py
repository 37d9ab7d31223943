"""Tests of api/observability/."""
