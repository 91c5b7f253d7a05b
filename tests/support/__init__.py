"""Helpers shared by the tests: fakes, fixtures' loaders, sandbox clients, paths."""
