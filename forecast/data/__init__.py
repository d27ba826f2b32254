"""Data: load and validate files into a Panel; calendars, features, transforms and windows."""
