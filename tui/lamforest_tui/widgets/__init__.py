"""Widgets of lamforest-tui, one per file."""
