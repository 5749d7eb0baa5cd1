"""mambaboot: a self-contained conda environment from one executable."""

__version__ = "0.1.0"
