"""Test-only helpers. ``chmerge`` is an independent oracle for ClickHouse's config handling
(it never imports ``postrender``); ``chdb_harness`` checks the oracle against real ClickHouse."""
