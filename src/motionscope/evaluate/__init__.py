"""Metrics, confusion matrices, training curves and reports."""
