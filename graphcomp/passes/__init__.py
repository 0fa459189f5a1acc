"""Graph rewrites run by ``gc.compile``: each a named ``Graph -> Graph`` pass
(outputs in, rewritten outputs out), one idea per module, never importing runtime."""
