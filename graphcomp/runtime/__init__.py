"""Running graphs: feed checks, the evaluator, compile."""
