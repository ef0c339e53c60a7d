"""Citizen-facing HTML pages: the complaint form and public tracking."""
