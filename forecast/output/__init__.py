"""Output: console tables, plot functions (they return figures) and the HTML report."""
