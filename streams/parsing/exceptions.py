"""What can go wrong in the parse stage."""


class ParseRejected(ValueError):
    """The raw input is not an article: empty, binary, undecodable, or with
    no extractable body (``"no article text"``).

    ``reason`` is a short stable phrase (for the dead-letter topic and the
    CLI); ``detail`` says more.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
