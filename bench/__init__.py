"""Benchmarks of scimharness (server throughput, scale, harness cycles) against scim2-server and bare Flask.
Not part of the test run: `python -m bench` (or `--quick`) prints one table of figures measured side by side."""
