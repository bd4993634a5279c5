from __future__ import annotations

import uuid

import uuid_utils.compat


def new_id() -> uuid.UUID:
    # Time-ordered ids keep primary-key inserts at the right edge of the index.
    return uuid_utils.compat.uuid7()
