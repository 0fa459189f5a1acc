"""Nodes, types, traversal and the Graph view: the IR everything else reads."""
