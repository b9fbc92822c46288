"""Exception types shared by the whole suite.

Every problem a user can fix (a bad file, a bad config key, a panel that
cannot be analysed) raises :class:`InputError` or a subclass.  The CLI turns
these into a one-paragraph message and exit code 2; any other exception is an
internal error (exit code 1).
"""

from __future__ import annotations


class NqpError(Exception):
    """Base class of every exception raised on purpose by nqpspatial."""


class InputError(NqpError, ValueError):
    """Bad user input: data, indicator list, boundary file or config.

    The message must name the file, the row or column, and the fix.

    Parameters
    ----------
    message : str
        What is wrong and how to fix it.
    source : str, optional
        The file (or ``"config"``) the problem was found in; prefixed to the
        message when given.
    """

    def __init__(self, message: str, source: str | None = None):
        self.source = source
        self.detail = message
        text = f"{source}: {message}" if source else message
        super().__init__(text)


class ConfigError(InputError):
    """A problem in the TOML configuration (unknown key, bad value)."""


class PluginError(NqpError):
    """A plugin failed to import or broke its contract.

    The message names the plugin's package, version and entry point.
    """


class ModelError(NqpError, ValueError):
    """A model cannot be computed for a reason inherent in the estimates.

    Example: asking for the distance to a stable point when the fitted
    potential has no stable point.  Raised as a clear error, never a number.
    """


class NqpWarning(UserWarning):
    """Base class of every warning nqpspatial issues on purpose.

    The pipeline records warnings of this class (and its subclasses) in
    ``run.json`` and the report; any other warning is a third party's and
    keeps its normal behaviour.  Filter them all with
    ``warnings.filterwarnings("ignore", category=nqpspatial.errors.NqpWarning)``.
    """


class NqpDeprecationWarning(NqpWarning, DeprecationWarning):
    """A deprecated key, attribute or call of nqpspatial (kept for one release).

    It is both one of our warnings (recorded in run.json) and a
    :class:`DeprecationWarning` (shown by pytest and in ``__main__``).
    """
