"""hepmini: LLM agents carry out a Higgs -> diphoton analysis, and are measured doing it.

Importing the package does nothing: no directories, no network, no heavy imports.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
