"""The ``graphcomp`` console command."""
