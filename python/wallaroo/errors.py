"""The one exception type the Wallaroo API raises for misuse."""


class WallarooParameterError(Exception):
    """Raised when an application uses the API wrongly.

    Wallaroo printed ``API_Error: <text>`` and raised this exception with no
    message. Roo puts the text in the exception message instead; the runtime
    prints it as one line.
    """
