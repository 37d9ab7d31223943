"""Tests of api/routes/."""
