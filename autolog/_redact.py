"""Masking secrets in text autolog records but did not compute itself.

Params, tags, the command line, allowed environment variables, the git remote URL and what an
import brings over pass through here. A value stays under its key, masked as ``***``:

* whole values, when the key names a secret: its last word is ``password``, ``token``,
  ``secret``, ``credentials``... or its last two words are ``api key``, ``access key``, ``private
  key``... (``api_key``, ``HF_TOKEN``, ``AWS_SECRET_ACCESS_KEY``; but not ``max_tokens`` nor
  scikit-learn's ``token_pattern``, whose last word names no secret);
* the credentials in a URL (``https://user:***@host``; a token alone before ``@`` too);
* well-known token shapes (GitHub, GitLab, Hugging Face, OpenAI, Slack, AWS access key ids,
  Google API keys, ``Bearer ...``) anywhere in a value.
"""

from __future__ import annotations

import functools
import re
from typing import Sequence

MASK = "***"

_LAST_WORDS = frozenset({"password", "passwd", "passphrase", "secret", "token", "credential",
                         "credentials", "apikey", "secretkey", "accesskey", "privatekey",
                         "authkey"})
_LAST_TWO = frozenset({"apikey", "secretkey", "accesskey", "privatekey", "authkey",
                       "authtoken", "accesstoken", "sessiontoken"})


@functools.lru_cache(maxsize=1)
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    # Compiled on first use, not at import: compiling costs ~2 ms of `import autolog`.
    word_split = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")
    # scheme://userinfo@ : group 1 the scheme, 2 the user, 3 the ":password" part if any.
    url_credentials = re.compile(r"\b([A-Za-z][A-Za-z0-9+.\-]*://)([^/\s:@]*)(:[^/\s@]*)?@")
    tokens = re.compile(
        r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_\-]{20,}"
        r"|hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_\-]{20,}|xox[abprs]-[A-Za-z0-9\-]{10,}"
        r"|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_\-]{35})"
        r"|(?<=Bearer )[A-Za-z0-9._~+/\-]{8,}=*")
    flag_value = re.compile(r"^(--?[A-Za-z0-9_.\-]+)=(.*)$", re.S)
    return word_split, url_credentials, tokens, flag_value

_key_cache: dict[str, bool] = {}


def key_is_secret(key: str) -> bool:
    """Whether a param/tag/variable name says its value is a secret (cached per key)."""
    cached = _key_cache.get(key)
    if cached is not None:
        return cached
    words = [w.lower() for w in _patterns()[0].split(key) if w]
    secret = bool(words) and (words[-1] in _LAST_WORDS
                              or (len(words) > 1 and words[-2] + words[-1] in _LAST_TWO))
    if len(_key_cache) < 100_000:
        _key_cache[key] = secret
    return secret


def _mask_userinfo(match: re.Match[str]) -> str:
    scheme, user, password = match.group(1), match.group(2), match.group(3)
    if password:
        return f"{scheme}{user}:{MASK}@"
    # A user name alone is usually a name (ssh://git@host); a long one is a token used as one.
    if len(user) >= 20 or _patterns()[2].fullmatch(user):
        return f"{scheme}{MASK}@"
    return match.group(0)


def mask_text(text: str) -> str:
    """``text`` with URL credentials and well-known token shapes masked."""
    if len(text) < 8:
        return text  # too short to hold a URL with credentials or a token: the common case
    _, url_credentials, tokens, _ = _patterns()
    if "@" in text:
        text = url_credentials.sub(_mask_userinfo, text)
    return tokens.sub(MASK, text)


def mask_value(key: str, text: str) -> str:
    """The value to record under ``key``: all masked when the key names a secret."""
    if key_is_secret(key):
        return MASK if text else text
    return mask_text(text)


def mask_argv(argv: Sequence[str]) -> list[str]:
    """A command line with the values of secret-named flags (``--api-key X``, ``--token=X``)
    and credentials inside any argument masked."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(MASK)
            hide_next = False
            continue
        flag = _patterns()[3].match(arg)
        if flag and key_is_secret(flag.group(1).lstrip("-")):
            out.append(f"{flag.group(1)}={MASK}")
            continue
        if arg.startswith("-") and key_is_secret(arg.lstrip("-")):
            hide_next = True
        out.append(mask_text(arg))
    return out
