"""Ticksy benchmark harness (see README.md): `make bench`."""
