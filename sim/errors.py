"""The one exception type for bad input: its message is a single line naming the problem and the fix."""


class UserError(ValueError):
    """Bad input from a user (config, parameter, file); the CLI prints it as one line and exits 2."""
