"""arxivfilter: nightly arXiv listings scored against written topic profiles."""

__version__ = "0.1.0"
