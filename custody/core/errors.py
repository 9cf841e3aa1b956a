class RuleError(Exception):
    """A refused action; the message names the rule and is shown to the user as is."""

    def __init__(self, message: str, *, rule: str = "", field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.rule = rule
        self.field = field
