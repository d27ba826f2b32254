"""forecast: stacked-LSTM forecasts of price series, honestly compared with naive baselines.

Importing the package is cheap: TensorFlow is imported only by the modules that train or load a model.
"""

__version__ = "0.1.0"
