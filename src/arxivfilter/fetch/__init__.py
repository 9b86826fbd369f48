"""Fetch stage."""
