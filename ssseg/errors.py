"""Error types: every user-facing failure is one line naming the file, key or value."""


class SsSegError(Exception):
    """Base class: the CLI prints these as a single line and exits non-zero."""


class ConfigError(SsSegError):
    """A config file, key or value is wrong."""


class DataError(SsSegError):
    """A dataset file, folder, split or label is wrong."""


class CheckpointError(SsSegError):
    """A workdir or checkpoint cannot be used as asked."""
