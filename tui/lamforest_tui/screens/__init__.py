"""Screens of lamforest-tui, one per file."""
