"""Inspection: reads core and ops; nothing imports inspect."""
