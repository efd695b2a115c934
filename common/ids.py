"""Time-ordered UUIDs (RFC 9562 version 7) for operation ids.

Random (v4) keys scatter inserts over the whole primary-key index and every index
that references it; v7 keys are appended at the right edge, which keeps bulk
posting fast as the ledger grows. They stay globally unique and unguessable enough
for ids (74 random bits per millisecond).

Hand-written: Python 3.11 has no uuid.uuid7, and no uuid7 library (uuid6, uuid-utils) is pinned;
these few lines do not justify a new dependency.
"""

import os
import time
import uuid


def uuid7() -> uuid.UUID:
    unix_ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")  # 80 bits, 74 used
    value = (unix_ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 62) - 1)  # rand_b
    return uuid.UUID(int=value)
