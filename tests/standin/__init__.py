"""Stand-in micromamba, conda channel builder and loopback HTTP fixtures for the test suite."""
