"""Password rules beyond Django's own validators (see settings.AUTH_PASSWORD_VALIDATORS)."""

from django.core.exceptions import ValidationError


class PasswordVarietyValidator:
    """At least `min_distinct` different characters, not all of them whitespace (`zzzzzzzz`, eight spaces)."""

    def __init__(self, min_distinct: int = 5):
        self.min_distinct = min_distinct

    def validate(self, password, user=None):
        if not password.strip():
            raise ValidationError("This password is only whitespace.", code="password_whitespace")
        if len(set(password)) < self.min_distinct:
            raise ValidationError(
                f"This password has fewer than {self.min_distinct} different characters.",
                code="password_too_uniform",
            )

    def get_help_text(self):
        return f"Your password must hold at least {self.min_distinct} different characters."


class ServiceNameValidator:
    """No password containing the service's own name (`yaptide1`): the first word any guesser tries."""

    def __init__(self, words=("yaptide",)):
        self.words = tuple(word.casefold() for word in words)

    def validate(self, password, user=None):
        folded = password.casefold()
        for word in self.words:
            if word in folded:
                raise ValidationError(f"This password contains the word {word!r}.", code="password_service_name")

    def get_help_text(self):
        return "Your password must not contain the name of this service."
