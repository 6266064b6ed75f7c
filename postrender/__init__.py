"""weave-postrender: make W&B Weave's self-managed ClickHouse correct by construction."""

__version__ = "0.1.0"
