"""Helpers shared by the test suites (services the tests need, builders)."""
