"""Errors that the CLI turns into one clear line instead of a traceback."""

from __future__ import annotations


class FraudLensError(Exception):
    """A problem the user can fix; ``str()`` is the whole message."""


class TableError(FraudLensError):
    """A whole input table is unusable: names the file, the problem and the fix."""

    def __init__(self, path: object, problem: str, fix: str):
        self.path, self.problem, self.fix = str(path), problem, fix
        super().__init__(f"{self.path}: {problem} - fix: {fix}")


class ConfigError(FraudLensError):
    pass
