"""User-facing errors: one line that names the file, column or row, and the fix."""


class ForecastError(Exception):
    """An error caused by the user's input or options; the CLI prints it and exits with `exit_code`."""

    exit_code = 2


class InputError(ForecastError):
    """A data file that cannot be used as given."""


class BundleError(ForecastError):
    """A model bundle that is missing, damaged, foreign or would be overwritten."""


class DifferentDataWarning(UserWarning):
    """A report's bundle and backtest were made from different files (or versions of one): ``forecast report``
    still writes it, and says so (here, not in output.report: the warning filter must not import the report's
    dependencies into every command)."""
