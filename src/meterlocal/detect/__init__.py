"""Change detection: content hashes, structural signatures and job comparison. Pure and synchronous.

Works on plain result lists and on the lxml elements or JSON values handed to it; it never fetches,
extracts or stores anything, so it runs the same inside a JobManager and on its own.
"""

from meterlocal.detect.align import MATCH_THRESHOLD
from meterlocal.detect.compare import (
    FILL_TOLERANCE,
    ITEM_TEMPLATE_THRESHOLD,
    PAGE_TEMPLATE_THRESHOLD,
    compare,
)
from meterlocal.detect.hashing import canonical_json, content_hash
from meterlocal.detect.signature import SIGNATURE_VERSION, StructuralSignature, structural_signature, value_kind

__all__ = [
    "FILL_TOLERANCE",
    "ITEM_TEMPLATE_THRESHOLD",
    "MATCH_THRESHOLD",
    "PAGE_TEMPLATE_THRESHOLD",
    "SIGNATURE_VERSION",
    "StructuralSignature",
    "canonical_json",
    "compare",
    "content_hash",
    "structural_signature",
    "value_kind",
]
