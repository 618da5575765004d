"""One error root for the station, as gpiozero does it.

Every error a user can cause derives from :class:`StationError`, and each
subclass also derives from the builtin it resembles, so callers that catch
``ValueError`` or ``FileNotFoundError`` keep working. The CLI turns any
``StationError`` into a one-line message and a non-zero exit.
"""


class StationError(Exception):
    """Root of every error the station raises on purpose."""


class InputError(StationError, ValueError):
    """Bad input: a malformed file, an unknown name, an out-of-range option."""


class MissingFileError(StationError, FileNotFoundError):
    """A path the user named does not exist."""


class ModelError(StationError, RuntimeError):
    """A model is missing, corrupt, mismatching or failed to run."""


class SourceError(StationError, IOError):
    """A frame source cannot be opened or has failed."""


class StoreError(StationError, RuntimeError):
    """The database cannot be opened or written."""


class BoardError(StationError, RuntimeError):
    """The cue board (GPIO LEDs, buzzer, button) cannot be opened or driven."""
