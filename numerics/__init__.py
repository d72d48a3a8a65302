"""Numerics: NumPy/SciPy/PyTorch. Compiled theory, grids, solvers, simulators."""
