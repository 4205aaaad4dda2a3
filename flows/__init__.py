"""Prefect flows: thin wiring around the bmsc_dge library."""
