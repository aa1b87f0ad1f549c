"""Engagement scoring job."""
