"""Workflows: train, predict, backtest and tune as library functions that return results and print nothing."""
