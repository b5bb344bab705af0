"""Benchmarks that print comparison tables (`make bench`). Not tests: nothing here asserts a time."""
