"""Placeholder until its issue lands the model class."""
