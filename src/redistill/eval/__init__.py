"""Stage: evaluation runner, metrics, reports."""
