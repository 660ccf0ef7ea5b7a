"""The metrics a sweep can rank by; kept free of heavy imports so ``--help`` can list them."""

RANKABLE = ("sharpe", "sortino", "cagr", "calmar", "total_return", "max_drawdown")
