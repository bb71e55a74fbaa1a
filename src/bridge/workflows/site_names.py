"""What a site may be called.

A site's name is the last part of the URL its tracker delivers to (`/webhooks/<name>`) and
is stored in every row the bridge records about it, so it is kept to what needs no escaping
anywhere and never changes meaning with case: lower-case letters, digits and '-'. The
workflows name sites too (`sites:`), which is why the rule lives beside them.
"""

from __future__ import annotations

import re

SITE_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
SITE_NAME_MAX = 40


def site_name_problem(name: str) -> str | None:
    """Why `name` cannot name a site, in the words of whoever typed it, or None."""
    if len(name) > SITE_NAME_MAX:
        return (
            f"site name '{name[:SITE_NAME_MAX]}…' is {len(name)} characters long; "
            f"at most {SITE_NAME_MAX} (it becomes the path /webhooks/<name>)"
        )
    if not re.fullmatch(SITE_NAME_PATTERN, name):
        return (
            f"'{name}' is not a valid site name: use lower-case letters, digits and '-', "
            "starting with a letter or digit (it becomes the path /webhooks/<name>)"
        )
    return None
