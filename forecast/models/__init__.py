"""Models: the forecaster interface, the LSTM (network builders, fitting) and the baselines."""
