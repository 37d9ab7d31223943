"""Tests of api/services/."""
