"""nascar-dfs: NASCAR race model, scenario simulation and DraftKings lineup portfolios."""

__version__ = "0.1.0"
