"""Shared fixtures: tests import the project from the checkout."""
