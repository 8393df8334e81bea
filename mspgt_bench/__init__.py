"""mspgt-bench: a benchmark suite that tests the Multi-Scale Probabilistic Generation Theory."""

__version__ = "0.1.0"
