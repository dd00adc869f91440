"""The one exception base for problems a user can fix; CLIs print its message as one line."""


class UserError(Exception):
    """Bad input or environment: the message says what is wrong and what to do."""
