"""mambaboot's benchmark (``make bench``): measured ratios, written to bench/results.md."""
