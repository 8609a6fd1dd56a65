"""Engines that take any Model: exhaustive exploration, traces, reports, the CLI."""
