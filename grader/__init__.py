"""torch-grader: an automated grader for PyTorch exercises."""

__version__ = "0.1.0"
