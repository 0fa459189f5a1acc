"""Worked examples: training on real data."""
