"""Tests of api/orchestration/."""
