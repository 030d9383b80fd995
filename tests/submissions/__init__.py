"""Hostile submission catalogue for the pipeline test and the autograde benchmark."""
