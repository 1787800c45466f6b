"""The rule for local usernames, and the key under which look-alike names count as one name."""

import unicodedata

ALLOWED_PUNCTUATION = frozenset("._@+-")

# Letters of other scripts that render like a Latin letter (after casefold), from Unicode's confusables list.
_LOOK_ALIKES = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i", "ј": "j", "к": "k", "ӏ": "l",
        "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "ԁ": "d",
        "ԛ": "q", "ԝ": "w", "ь": "b", "г": "r", "п": "n", "и": "u",
        # Greek
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
        "υ": "u", "χ": "x", "ω": "w", "μ": "u", "γ": "y",
        # Latin look-alikes within Latin
        "ı": "i", "ſ": "s", "ß": "ss",
    }
)  # fmt: skip


def _script(char: str) -> str:
    return unicodedata.name(char, "UNKNOWN").split(" ")[0]


def username_problem(username: str) -> str | None:
    """Why this (NFKC-normalized) name is not allowed as a local username, or None."""
    if not username:
        return "username must not be empty"
    scripts = set()
    for char in username:
        category = unicodedata.category(char)
        if category.startswith("L"):
            scripts.add(_script(char))
        elif category != "Nd" and char not in ALLOWED_PUNCTUATION:
            return (
                f"username may hold letters, digits and {' '.join(sorted(ALLOWED_PUNCTUATION))} only; "
                f"not {unicodedata.name(char, f'U+{ord(char):04X}')}"
            )
    if len(scripts) > 1:
        return f"username mixes letters of several scripts ({', '.join(sorted(scripts))})"
    return None


def normalize_username(username: str) -> str:
    """The name as stored: NFKC-normalized (full-width and compatibility forms become plain ones), trimmed."""
    return unicodedata.normalize("NFKC", username).strip()


def username_key(username: str) -> str:
    """Names with one key look the same: case, compatibility forms and look-alike letters do not tell them apart."""
    return normalize_username(username).casefold().translate(_LOOK_ALIKES)
