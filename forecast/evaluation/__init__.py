"""Evaluation: metrics, prediction intervals, walk-forward folds and the backtest."""
