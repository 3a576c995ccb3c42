# cython: language_level=3, boundscheck=False, wraparound=False
"""The extraction hot path in C: CSS matching, the record walk and element text, over libxml2's nodes; and the
page-template walk of the structural signature (`TemplateWalker`, for `meterlocal.detect.template`).

This module is optional. It compiles when meterlocal is installed (Cython, with lxml's public C API); without a
compiler the pure-Python path in `selectors.py` / `records.py` / `document.py` does the same work more slowly.
Both must give identical results: tests hold one against the other on the corpus and on generated documents.

What it covers is what the Python matcher covers (see `selectors._Compound`): a tag, classes, ids, attribute
tests (=, ~=, |=, ^=, $=, *=, != and existence, with the `i` flag), structural positions (`:nth-*`, `:first-*`,
`:last-*`, `:only-*`), `:not(compound)` and `:has(> compound, compound, ...)` (any of its arguments), joined by
descendant and child combinators, matched right to left inside a scope (descendant-or-self), in document order.

The rules it must keep, each the Python path's:
- an element's tag is its name and it has no namespace (lxml's `el.tag == "div"`);
- `el.get(name)` reads an attribute without a namespace; classes (and `~=` words) are the value split on HTML's
  ASCII whitespace (space, tab, LF, FF, CR), so U+00A0 does not separate them;
- `getparent()` of the root element is None; positions count element siblings only;
- text is every text and CDATA node below the element, leaving out what is inside script, style and template
  elements below it; whitespace-normalised as `" ".join(text.split())`.

The work is bounded: a descendant-combinator chain gives up as soon as no placement above can match (linear in
the depth, not the number of ancestor combinations); an element's position among its siblings is counted once per
document (`limits.memo()`), not once per test.

No libxml2 function is called (lxml links libxml2 privately): only the node structs are read, and Python
element proxies come from lxml's `elementFactory`. The GIL is held throughout (the walks create Python objects),
but every few thousand elements visited (by any loop, `:has()` tests included) the walk calls the run's deadline
check (`limits.checkpoint()`), Python code, where the interpreter hands the GIL to a thread that asked for it, so
the event loop is not held up by a long walk.
"""

from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.string cimport memcpy, strcmp, strlen, strstr

cimport lxml.includes.etreepublic as cetree
from meterlocal.extract.limits import checkpoint as _checkpoint
from meterlocal.extract.limits import memo as _memo
from lxml.includes.tree cimport (
    XML_CDATA_SECTION_NODE,
    XML_COMMENT_NODE,
    XML_ELEMENT_NODE,
    XML_ENTITY_REF_NODE,
    XML_PI_NODE,
    XML_TEXT_NODE,
    xmlAttr,
    xmlNode,
)

__all__ = ["MAX_FIELDS", "MODES", "Compound", "RecordWalk", "Selector", "TemplateWalker", "text"]

cetree.import_lxml__etree()

# Attribute operators (cssselect's names, in `Compound.attributes`).
cdef enum:
    OP_EXISTS = 0
    OP_EQUALS = 1
    OP_INCLUDES = 2  # ~=
    OP_DASH = 3  # |=
    OP_PREFIX = 4  # ^=
    OP_SUFFIX = 5  # $=
    OP_SUBSTRING = 6  # *=
    OP_NOT_EQUALS = 7  # cssselect's !=: also true when the attribute is absent

_OPERATORS = {"exists": OP_EXISTS, "=": OP_EQUALS, "~=": OP_INCLUDES, "|=": OP_DASH, "^=": OP_PREFIX,
              "$=": OP_SUFFIX, "*=": OP_SUBSTRING, "!=": OP_NOT_EQUALS}

# Combinators towards the next compound on the left.
cdef enum:
    COMBINATOR_NONE = 0
    COMBINATOR_DESCENDANT = 1
    COMBINATOR_CHILD = 2

# What settles a first-match field of a record walk (the walk stops looking for it).
cdef enum:
    SETTLE_FIRST = 0  # the first match decides (text, html, nested fields)
    SETTLE_NEVER = 1  # collect every match (`all` fields)
    SETTLE_ATTRIBUTE = 2  # the first match whose attribute is surely not blank
    SETTLE_OWN_TEXT = 3  # the first match whose own text is surely not blank

MODES = {"first": SETTLE_FIRST, "all": SETTLE_NEVER, "attribute": SETTLE_ATTRIBUTE, "own_text": SETTLE_OWN_TEXT}

cdef enum:
    MAX_SLOTS = 256  # fields in one record walk
    YIELD_EVERY = 4096  # elements visited between two chances for other threads to take the GIL (a power of two)
    COUNT_DIRECTLY = 32  # a fixed sibling position up to this is counted on the spot; beyond, through the memo

# Outcomes of matching a chain from one compound leftwards (see _chain_matches).
cdef enum:
    CHAIN_MATCH = 0
    CHAIN_FAILS_HERE = 1  # this placement fails; a placement of an earlier compound further up may still match
    CHAIN_FAILS_ABOVE = 2  # no placement at or above this node can match: stop trying further ancestors

MAX_FIELDS = MAX_SLOTS  # a field set with more CSS fields is walked by the Python path

cdef Py_ssize_t _visits = 0  # elements visited by every loop of every walk (counted under the GIL)


cdef inline int _let_others_run() except -1:
    """Release the GIL for a moment every YIELD_EVERY elements, as the interpreter would between bytecodes.

    Extraction runs in worker threads beside the event loop; a selector such as `*:has(...)` on a huge page can
    walk for a long time, and without this the loop would wait for all of it. One count is shared by every loop,
    so many short ones (nested `:has()` tests) add up as one long one does. Then the run's deadline is checked:
    past it, `checkpoint()` raises ExtractionError and the walk unwinds.
    """
    global _visits
    _visits += 1
    if (_visits & (YIELD_EVERY - 1)) == 0:
        # Calling Python code is the yield: the interpreter checks its eval breaker when the function starts and
        # hands the GIL to a thread that has asked for it. Releasing the GIL here instead (`with nogil: pass`) does
        # not work at this rate: each release and re-take counts as a switch, so a waiting thread never gets to ask
        # for the GIL, and it waited out whole walks (0.3 s) that way.
        _checkpoint()
    return 0


cdef inline bint _py_space(unsigned char c) noexcept nogil:
    """Whether an ASCII byte is whitespace to Python's str.split()."""
    return c == 32 or 9 <= c <= 13 or 28 <= c <= 31


cdef inline bint _html_space(unsigned char c) noexcept nogil:
    """Whether a byte is ASCII whitespace as HTML defines it (what separates class names): space, \\t, \\n, \\f, \\r."""
    return c == 32 or c == 9 or c == 10 or c == 12 or c == 13


cdef inline bint _printable(const char* s) noexcept nogil:
    """Whether `s` has a visible ASCII character: then `" ".join(s.split())` is surely not empty."""
    cdef const unsigned char* p = <const unsigned char*>s
    while p[0]:
        if 33 <= p[0] <= 126:
            return True
        p += 1
    return False


cdef inline bint _is_named(xmlNode* node, const char* name) noexcept nogil:
    return node.ns is NULL and strcmp(<const char*>node.name, name) == 0


cdef inline bint _same_tag(xmlNode* a, xmlNode* b) noexcept nogil:
    if strcmp(<const char*>a.name, <const char*>b.name) != 0:
        return False
    if a.ns is NULL or b.ns is NULL:
        return a.ns is b.ns
    return strcmp(<const char*>a.ns.href, <const char*>b.ns.href) == 0


cdef inline xmlNode* _parent(xmlNode* node) noexcept nogil:
    cdef xmlNode* parent = node.parent
    if parent is NULL or parent.type != XML_ELEMENT_NODE:
        return NULL
    return parent


cdef inline xmlNode* _first_child(xmlNode* node) noexcept nogil:
    cdef xmlNode* child = node.children
    while child is not NULL and child.type != XML_ELEMENT_NODE:
        child = child.next
    return child


cdef inline xmlNode* _next_sibling(xmlNode* node) noexcept nogil:
    node = node.next
    while node is not NULL and node.type != XML_ELEMENT_NODE:
        node = node.next
    return node


cdef inline xmlNode* _following(xmlNode* node, xmlNode* top) noexcept nogil:
    """The next element after `node` in document order, inside `top`'s subtree, or NULL."""
    cdef xmlNode* next_node = _first_child(node)
    if next_node is not NULL:
        return next_node
    while node is not top:
        next_node = _next_sibling(node)
        if next_node is not NULL:
            return next_node
        node = node.parent
        if node is NULL:
            return NULL
    return NULL


cdef inline xmlAttr* _attribute(xmlNode* node, const char* name) noexcept nogil:
    cdef xmlAttr* attr = node.properties
    while attr is not NULL:
        if attr.ns is NULL and strcmp(<const char*>attr.name, name) == 0:
            return attr
        attr = attr.next
    return NULL


cdef inline const char* _simple_value(xmlAttr* attr) noexcept nogil:
    """The attribute's value when it is one text node (always, from the HTML parser), else NULL."""
    cdef xmlNode* child = attr.children
    if child is NULL:
        return ""
    if child.next is NULL and child.type == XML_TEXT_NODE and child.content is not NULL:
        return <const char*>child.content
    return NULL


cdef bytes _value(xmlAttr* attr):
    """The attribute's value as bytes, whatever nodes hold it."""
    cdef const char* simple = _simple_value(attr)
    if simple is not NULL:
        return <bytes>simple
    parts = []
    cdef xmlNode* child = attr.children
    while child is not NULL:
        if child.content is not NULL:
            parts.append(<bytes>child.content)
        child = child.next
    return b"".join(parts)


cdef bint _has_token(const char* value, const char* tok, size_t size) noexcept nogil:
    """Whether `tok` is one of the HTML-whitespace-separated words of `value`.

    UTF-8 is split byte by byte: HTML's whitespace is ASCII, and no byte of a multi-byte character is ASCII.
    """
    cdef const char* found
    cdef const char* start = value
    if size == 0:
        return False
    while True:
        found = strstr(start, tok)
        if found is NULL:
            return False
        if (found == value or _html_space(<unsigned char>(found - 1)[0])) and (
            found[size] == 0 or _html_space(<unsigned char>found[size])
        ):
            return True
        start = found + 1


cdef inline bint _same_kind(xmlNode* sibling, xmlNode* node, bint of_type) noexcept nogil:
    return sibling.type == XML_ELEMENT_NODE and (not of_type or _same_tag(sibling, node))


cdef int _count_position(xmlNode* node, bint of_type, bint from_end, int cap) noexcept nogil:
    """The 1-based position of `node` among its siblings of its kind, or cap + 1 when it is beyond `cap`."""
    cdef int count = 1
    cdef xmlNode* sibling = node.next if from_end else node.prev
    while sibling is not NULL and count <= cap:
        if _same_kind(sibling, node, of_type):
            count += 1
        sibling = sibling.next if from_end else sibling.prev
    return count


cdef int _position(xmlNode* node, bint of_type, bint from_end, int cap) except -1:
    """As `_count_position`, through the run's memo when counting could be long (exact then, not capped).

    The memo keeps, per parent (and tag, for `-of-type`), the last element whose position was asked and that
    position: the walks ask in document order, so the next sibling's position is counted from the last one, and a
    list of n items costs n steps instead of n * n / 2. Totals (for `nth-last-*`) are counted once per parent.
    """
    cdef xmlNode* parent = node.parent
    cdef xmlNode* sibling
    cdef size_t cursor
    cdef int count = 1
    cdef int total
    if cap <= COUNT_DIRECTLY:
        return _count_position(node, of_type, from_end, cap)
    memo = _memo()
    if memo is None or parent is NULL:
        return _count_position(node, of_type, from_end, 2147483646)
    if of_type:
        key = (<size_t>parent, <size_t>node.name, <size_t>node.ns)
    else:
        key = (<size_t>parent, 0, 0)
    entry = memo.get(key)
    if entry is None:
        entry = memo[key] = [0, 0, -1]  # the last element asked about, its position, the total
    cursor = <size_t>entry[0]
    sibling = node.prev
    while sibling is not NULL:
        if <size_t>sibling == cursor:
            count += <int>entry[1]
            break
        if _same_kind(sibling, node, of_type):
            count += 1
        sibling = sibling.prev
    entry[0] = <size_t>node
    entry[1] = count
    if not from_end:
        return count
    total = entry[2]
    if total < 0:
        total = count
        sibling = node.next
        while sibling is not NULL:
            if _same_kind(sibling, node, of_type):
                total += 1
            sibling = sibling.next
        entry[2] = total
    return total - count + 1


cdef class Compound:
    """One compound selector, matched against one element. Built from `selectors._Compound`'s fields."""

    cdef bytes tag
    cdef const char* c_tag  # points into `tag`; NULL for any element
    cdef tuple class_bytes  # each class, UTF-8
    cdef bint class_never  # a class with HTML whitespace in it (or empty): never one of the split words
    cdef tuple ids  # bytes
    cdef tuple attributes  # (name bytes, operator int, value bytes or None, value str or None, ignore case)
    cdef tuple series  # (a, b, of_type, from_end)
    cdef tuple negations  # Compound
    cdef tuple relatives  # per :has(), its arguments: ((Compound, children_only), ...); any argument will do
    cdef int combinator

    def __init__(self, tag, classes, ids, attributes, series, negations, relatives, combinator):
        self.tag = None if tag is None else tag.encode("utf-8")
        self.c_tag = NULL if self.tag is None else <const char*>self.tag
        self.class_bytes = tuple(name.encode("utf-8") for name in classes)
        self.class_never = any(not name or any(c in " \t\n\f\r" for c in name) for name in classes)
        self.ids = tuple(ident.encode("utf-8") for ident in ids)
        self.attributes = tuple(
            (
                name.encode("utf-8"),
                _OPERATORS[operator],
                None if value is None else (value.encode("utf-8").lower() if ignore_case else value.encode("utf-8")),
                value,
                bool(ignore_case),
            )
            for name, operator, value, ignore_case in attributes
        )
        self.series = tuple((int(a), int(b), bool(of_type), bool(from_end)) for a, b, of_type, from_end in series)
        self.negations = tuple(negations)
        self.relatives = tuple(
            tuple((compound, bool(children_only)) for compound, children_only in group) for group in relatives
        )
        self.combinator = {None: COMBINATOR_NONE, " ": COMBINATOR_DESCENDANT, ">": COMBINATOR_CHILD}[combinator]

    cdef bint matches(self, xmlNode* node) except -1:
        cdef xmlAttr* attr
        cdef const char* value
        cdef bytes held
        cdef bytes name
        cdef Compound other
        cdef tuple group
        cdef bint found
        cdef Py_ssize_t k
        if self.c_tag is not NULL and not _is_named(node, self.c_tag):
            return False
        if self.class_bytes:
            attr = _attribute(node, "class")
            if attr is NULL or self.class_never:
                return False
            value = _simple_value(attr)
            if value is NULL:
                held = _value(attr)
                value = held
            for k in range(len(self.class_bytes)):
                name = <bytes>self.class_bytes[k]
                if not _has_token(value, name, len(name)):
                    return False
        for ident in self.ids:
            attr = _attribute(node, "id")
            if attr is NULL or _value(attr) != ident:
                return False
        for spec in self.attributes:
            if not _attribute_matches(node, spec):
                return False
        for a, b, of_type, from_end in self.series:
            if not _series_matches(node, a, b, of_type, from_end):
                return False
        for other in self.negations:
            if other.matches(node):
                return False
        for group in self.relatives:
            found = False
            for other, children_only in group:
                if _relative_matches(node, other, children_only):
                    found = True
                    break
            if not found:
                return False
        return True


cdef bint _attribute_matches(xmlNode* node, tuple spec) except -1:
    cdef bytes name = spec[0]
    cdef int op = spec[1]
    cdef xmlAttr* attr = _attribute(node, name)
    if op == OP_EXISTS:
        return attr is not NULL
    cdef bytes wanted = spec[2]
    if attr is NULL:
        return op == OP_NOT_EQUALS
    cdef bytes actual = _value(attr)
    if spec[4]:  # the `i` flag: ASCII case-insensitive (`wanted` is lowered already; bytes.lower() is ASCII)
        actual = actual.lower()
    if op == OP_EQUALS:
        return actual == wanted
    if op == OP_NOT_EQUALS:
        return actual != wanted
    if op == OP_INCLUDES:
        text = spec[3]
        if not text or any(c in " \t\n\f\r" for c in text):
            return False
        return _has_token(actual, wanted, len(wanted))
    if op == OP_DASH:
        return actual == wanted or actual.startswith(wanted + b"-")
    if not wanted:
        return False
    if op == OP_PREFIX:
        return actual.startswith(wanted)
    if op == OP_SUFFIX:
        return actual.endswith(wanted)
    return wanted in actual  # OP_SUBSTRING


cdef bint _series_matches(xmlNode* node, int a, int b, bint of_type, bint from_end) except -1:
    """`:nth-*(an+b)`: the position is a*n + b for some n >= 0."""
    cdef int offset
    if a <= 0:  # positions up to b only: counting further is never needed
        if b < 1:
            return False
        offset = _position(node, of_type, from_end, b) - b
        if a == 0:
            return offset == 0
        return offset <= 0 and (-offset) % (-a) == 0
    offset = _position(node, of_type, from_end, 2147483646) - b
    return offset >= 0 and offset % a == 0


cdef bint _relative_matches(xmlNode* node, Compound other, bint children_only) except -1:
    cdef xmlNode* child
    if children_only:
        child = _first_child(node)
        while child is not NULL:
            if other.matches(child):
                return True
            child = _next_sibling(child)
            _let_others_run()
        return False
    child = _following(node, node)
    while child is not NULL:
        if other.matches(child):
            return True
        child = _following(child, node)
        _let_others_run()
    return False


cdef int _chain_matches(tuple chain, Py_ssize_t i, xmlNode* node, xmlNode* scope) except -1:
    """Compound `i` of a right-to-left chain at `node`, the rest on its ancestors, inside `scope`.

    Returns CHAIN_MATCH, CHAIN_FAILS_HERE or CHAIN_FAILS_ABOVE. A descendant combinator tries the ancestors one
    by one, but stops at the first that answers CHAIN_FAILS_ABOVE: then the compounds further left cannot be placed
    at or above it, so neither can they above any higher ancestor (browsers' and soupsieve's rule). Without the
    stop, `p div div ... div` on nested divs tries every combination of ancestors.
    """
    cdef Compound compound = <Compound>chain[i]
    cdef int outcome
    if not compound.matches(node):
        return CHAIN_FAILS_HERE
    if i + 1 == len(chain):
        return CHAIN_MATCH
    cdef xmlNode* up
    if compound.combinator == COMBINATOR_CHILD:
        if node is scope:
            return CHAIN_FAILS_ABOVE
        up = _parent(node)
        if up is NULL:
            return CHAIN_FAILS_ABOVE
        return _chain_matches(chain, i + 1, up, scope)
    up = node
    while up is not scope:
        up = _parent(up)
        if up is NULL:
            break
        outcome = _chain_matches(chain, i + 1, up, scope)
        if outcome != CHAIN_FAILS_HERE:
            return outcome
    return CHAIN_FAILS_ABOVE


cdef class Selector:
    """A selector group: chains of `Compound`s, each right to left. `select(scope)` lists the matches."""

    cdef tuple chains
    cdef bytes tag  # the tag every chain's rightmost compound names, if they name one and the same
    cdef const char* c_tag

    def __init__(self, chains):
        self.chains = tuple(tuple(chain) for chain in chains)
        if not self.chains or not all(self.chains):
            raise ValueError("a selector needs at least one non-empty chain")
        tags = {(<Compound>chain[0]).tag for chain in self.chains}
        self.tag = tags.pop() if len(tags) == 1 else None
        self.c_tag = NULL if self.tag is None else <const char*>self.tag

    cdef bint matches(self, xmlNode* node, xmlNode* scope) except -1:
        cdef Py_ssize_t i
        if self.c_tag is not NULL and not _is_named(node, self.c_tag):
            return False
        for i in range(len(self.chains)):
            if _chain_matches(<tuple>self.chains[i], 0, node, scope) == CHAIN_MATCH:
                return True
        return False

    def select(self, cetree._Element scope not None):
        """The elements matching in `scope` (descendant-or-self), in document order."""
        cdef xmlNode* top = scope._c_node
        cdef xmlNode* node = top
        found = []
        if top.type != XML_ELEMENT_NODE:
            return found
        while node is not NULL:
            if self.matches(node, top):
                found.append(cetree.elementFactory(scope._doc, node))
            node = _following(node, top)
            _let_others_run()
        return found


cdef class RecordWalk:
    """One walk of a scope for several fields at once: `run(scope)` gives each field's matched elements.

    Per field, `run` gives the matched element (or None) for a "first" field, else a list of the matches (or
    None when nothing matched): an item's record allocates a list only where more than one element can count.

    `slots` are (Selector, mode, attribute) per field; mode is a key of `MODES`. A field settled by its mode is
    no longer tested; the walk stops when every field is settled and none collects `all` matches.
    """

    cdef tuple selectors
    cdef int modes[MAX_SLOTS]
    cdef tuple attributes
    cdef Py_ssize_t count
    cdef bint stoppable

    def __init__(self, slots):
        slots = tuple(slots)
        if not 0 < len(slots) <= MAX_SLOTS:
            raise ValueError(f"a record walk takes 1 to {MAX_SLOTS} fields, not {len(slots)}")
        self.count = len(slots)
        self.selectors = tuple(selector for selector, _, _ in slots)
        self.attributes = tuple(None if name is None else name.encode("utf-8") for _, _, name in slots)
        self.stoppable = True
        for i, (_, mode, _) in enumerate(slots):
            self.modes[i] = MODES[mode]
            if self.modes[i] == SETTLE_NEVER:
                self.stoppable = False

    def run(self, cetree._Element scope not None):
        """Per field, its first match (mode "first") or the list of its matches, None when nothing matched."""
        cdef xmlNode* top = scope._c_node
        cdef xmlNode* node = top
        cdef bint settled[MAX_SLOTS]
        cdef Py_ssize_t i
        cdef Py_ssize_t remaining = self.count
        cdef Selector selector
        cdef int mode
        found = [None] * self.count
        for i in range(self.count):
            settled[i] = False
        if top.type != XML_ELEMENT_NODE:
            return found
        while node is not NULL:
            element = None
            for i in range(self.count):
                if settled[i]:
                    continue
                selector = <Selector>self.selectors[i]
                if selector.c_tag is not NULL and not _is_named(node, selector.c_tag):
                    continue
                if not selector.matches(node, top):
                    continue
                if element is None:
                    element = cetree.elementFactory(scope._doc, node)
                mode = self.modes[i]
                if mode == SETTLE_FIRST:
                    found[i] = element
                elif found[i] is None:
                    found[i] = [element]
                else:
                    found[i].append(element)
                if (
                    mode == SETTLE_FIRST
                    or (mode == SETTLE_ATTRIBUTE and _attribute_printable(node, self.attributes[i]))
                    or (mode == SETTLE_OWN_TEXT and _own_text_printable(node))
                ):
                    settled[i] = True
                    remaining -= 1
            if self.stoppable and remaining == 0:
                break
            node = _following(node, top)
            _let_others_run()
        return found


cdef bint _attribute_printable(xmlNode* node, bytes name) except -1:
    cdef xmlAttr* attr = _attribute(node, name)
    if attr is NULL:
        return False
    return _printable(_value(attr))


cdef bint _own_text_printable(xmlNode* node) noexcept nogil:
    cdef xmlNode* child = node.children
    while child is not NULL:
        if (child.type == XML_TEXT_NODE or child.type == XML_CDATA_SECTION_NODE) and child.content is not NULL:
            if _printable(<const char*>child.content):
                return True
        child = child.next
    return False


# Element text: a growable byte buffer, filled by a walk of the subtree.
cdef struct Buffer:
    char* data
    size_t size
    size_t capacity


cdef int _append(Buffer* buffer, const char* text) except -1:
    cdef size_t size = strlen(text)
    cdef size_t capacity
    cdef char* data
    if buffer.size + size + 1 > buffer.capacity:
        capacity = max(buffer.capacity * 2, buffer.size + size + 1, 256)
        data = <char*>PyMem_Realloc(buffer.data, capacity)
        if data is NULL:
            raise MemoryError()
        buffer.data = data
        buffer.capacity = capacity
    memcpy(buffer.data + buffer.size, text, size)
    buffer.size += size
    return 0


cdef inline bint _is_code(xmlNode* node) noexcept nogil:
    return node.ns is NULL and (
        strcmp(<const char*>node.name, "script") == 0
        or strcmp(<const char*>node.name, "style") == 0
        or strcmp(<const char*>node.name, "template") == 0
    )


cdef inline bint _is_text(xmlNode* node) noexcept nogil:
    return (node.type == XML_TEXT_NODE or node.type == XML_CDATA_SECTION_NODE) and node.content is not NULL


cdef int _collect(xmlNode* node, Buffer* buffer) except -1:
    cdef xmlNode* child = node.children
    while child is not NULL:
        if _is_text(child):
            _append(buffer, <const char*>child.content)
        elif child.type == XML_ELEMENT_NODE and not _is_code(child):
            _collect(child, buffer)
        child = child.next
        _let_others_run()
    return 0


cdef str _normalized(Buffer* buffer):
    """`" ".join(text.split())` of the buffer; ASCII is normalised here, anything else by Python."""
    cdef size_t i
    cdef size_t out = 0
    cdef unsigned char c
    cdef bint space = False
    cdef bint ascii = True
    for i in range(buffer.size):
        if <unsigned char>buffer.data[i] >= 128:
            ascii = False
            break
    if not ascii:
        return " ".join(PyUnicode_DecodeUTF8(buffer.data, buffer.size, "replace").split())
    for i in range(buffer.size):
        c = <unsigned char>buffer.data[i]
        if _py_space(c):
            space = out > 0
            continue
        if space:
            buffer.data[out] = 32
            out += 1
            space = False
        buffer.data[out] = c
        out += 1
    return PyUnicode_DecodeUTF8(buffer.data, out, "strict")


def text(cetree._Element element not None, run=None):
    """Whitespace-normalised text of `element` and its descendants, without script/style/template code.

    The rules are `document.Page.text`'s: a leaf gives all its text (a `<script>` asked for gives its code); a
    script, style or template element with children gives its leading text only. With a `limits.Run`, the text
    is charged to it (`run.charge(len(text))`), as the Python readers do.
    """
    cdef xmlNode* node = element._c_node
    cdef xmlNode* child = node.children
    cdef bint leaf = True
    cdef Buffer buffer
    buffer.data = NULL
    buffer.size = 0
    buffer.capacity = 0
    while child is not NULL:
        if child.type != XML_TEXT_NODE and child.type != XML_CDATA_SECTION_NODE:
            leaf = False
            break
        child = child.next
    try:
        if leaf or not _is_code(node):
            _collect(node, &buffer)
        else:
            child = node.children
            while child is not NULL and (child.type == XML_TEXT_NODE or child.type == XML_CDATA_SECTION_NODE):
                if child.content is not NULL:
                    _append(&buffer, <const char*>child.content)
                child = child.next
        if buffer.size == 0:
            return ""
        result = _normalized(&buffer)
        if run is not None:
            run.charge(len(result))
        return result
    finally:
        PyMem_Free(buffer.data)


# Page-template shingles (meterlocal.detect.template) -------------------------------------------------------
cdef inline bint _is_child_node(xmlNode* node) noexcept nogil:
    """Whether lxml counts `node` as a child (len(el), iteration): elements, comments, PIs, entity references."""
    return (
        node.type == XML_ELEMENT_NODE
        or node.type == XML_COMMENT_NODE
        or node.type == XML_PI_NODE
        or node.type == XML_ENTITY_REF_NODE
    )


cdef Py_ssize_t _child_count(xmlNode* node) noexcept nogil:
    cdef Py_ssize_t count = 0
    cdef xmlNode* child = node.children
    while child is not NULL:
        if _is_child_node(child):
            count += 1
        child = child.next
    return count


cdef str _node_tag(xmlNode* node):
    name = PyUnicode_DecodeUTF8(<const char*>node.name, strlen(<const char*>node.name), "strict")
    if node.ns is NULL or node.ns.href is NULL:
        return name
    href = PyUnicode_DecodeUTF8(<const char*>node.ns.href, strlen(<const char*>node.ns.href), "strict")
    return "{" + href + "}" + name


cdef struct _LabelSlot:
    char* name  # copies of the tag name, its namespace URI and the class attribute (NULL when there is none);
    char* ns  # NULL name: an empty slot
    char* classes
    Py_ssize_t label  # index into the walk's labels, from 1


cdef struct _LabelTable:
    _LabelSlot* slots
    Py_ssize_t capacity  # a power of two
    Py_ssize_t used


cdef inline size_t _fnv(size_t h, const unsigned char* p) noexcept nogil:
    if p is not NULL:
        while p[0]:
            h = (h ^ p[0]) * 1099511628211ULL
            p += 1
    return h


cdef inline size_t _label_key(const unsigned char* name, const unsigned char* ns, const char* classes) noexcept nogil:
    cdef size_t h = _fnv(1469598103934665603ULL, name)
    h = _fnv(h * 31 + (ns is not NULL), ns)
    h = _fnv(h * 31 + (classes is not NULL), <const unsigned char*>classes)
    return h ^ (h >> 29)


cdef inline bint _same_text(const char* a, const char* b) noexcept nogil:
    if a is NULL or b is NULL:
        return a is NULL and b is NULL
    return strcmp(a, b) == 0


cdef inline bint _slot_is(
    _LabelSlot* slot, const unsigned char* name, const unsigned char* ns, const char* classes
) noexcept nogil:
    return (
        strcmp(slot.name, <const char*>name) == 0
        and _same_text(slot.ns, <const char*>ns)
        and _same_text(slot.classes, classes)
    )


cdef char* _copy(const unsigned char* text) except? NULL:
    if text is NULL:
        return NULL
    cdef size_t size = strlen(<const char*>text) + 1
    cdef char* copy = <char*>PyMem_Realloc(NULL, size)
    if copy is NULL:
        raise MemoryError()
    memcpy(copy, text, size)
    return copy


cdef int _label_grow(_LabelTable* table) except -1:
    cdef Py_ssize_t capacity = table.capacity * 2 if table.capacity else 256
    cdef _LabelSlot* slots = <_LabelSlot*>PyMem_Realloc(NULL, capacity * sizeof(_LabelSlot))
    cdef Py_ssize_t i
    cdef size_t j
    if slots is NULL:
        raise MemoryError()
    for i in range(capacity):
        slots[i].name = NULL
    for i in range(table.capacity):
        if table.slots[i].name is not NULL:
            j = _label_key(
                <const unsigned char*>table.slots[i].name,
                <const unsigned char*>table.slots[i].ns,
                table.slots[i].classes,
            ) & (capacity - 1)
            while slots[j].name is not NULL:
                j = (j + 1) & (capacity - 1)
            slots[j] = table.slots[i]
    PyMem_Free(table.slots)
    table.slots = slots
    table.capacity = capacity
    return 0


cdef void _label_free(_LabelTable* table) noexcept:
    cdef Py_ssize_t i
    for i in range(table.capacity):
        if table.slots[i].name is not NULL:
            PyMem_Free(table.slots[i].name)
            PyMem_Free(table.slots[i].ns)
            PyMem_Free(table.slots[i].classes)
    PyMem_Free(table.slots)
    table.slots = NULL
    table.capacity = 0
    table.used = 0


cdef struct _ShingleSet:
    unsigned long long* values  # 0 is empty: a packed path always has a label in its last place
    Py_ssize_t capacity
    Py_ssize_t used


cdef inline size_t _mix(unsigned long long value) noexcept nogil:
    value ^= value >> 33
    value *= 0xff51afd7ed558ccdULL
    value ^= value >> 33
    return <size_t>value


cdef int _shingle_add(_ShingleSet* table, unsigned long long value) except -1:
    """Add a packed path; return 1 when it was new."""
    cdef Py_ssize_t i
    cdef size_t j
    cdef unsigned long long* values
    cdef Py_ssize_t capacity
    if 2 * (table.used + 1) > table.capacity:
        capacity = table.capacity * 2 if table.capacity else 1024
        values = <unsigned long long*>PyMem_Realloc(NULL, capacity * sizeof(unsigned long long))
        if values is NULL:
            raise MemoryError()
        for i in range(capacity):
            values[i] = 0
        for i in range(table.capacity):
            if table.values[i]:
                j = _mix(table.values[i]) & (capacity - 1)
                while values[j]:
                    j = (j + 1) & (capacity - 1)
                values[j] = table.values[i]
        PyMem_Free(table.values)
        table.values = values
        table.capacity = capacity
    j = _mix(value) & (table.capacity - 1)
    while table.values[j]:
        if table.values[j] == value:
            return 0
        j = (j + 1) & (table.capacity - 1)
    table.values[j] = value
    table.used += 1
    return 1


cdef inline bint _has_child_node(xmlNode* node) noexcept nogil:
    cdef xmlNode* child = node.children
    while child is not NULL:
        if _is_child_node(child):
            return True
        child = child.next
    return False


cdef class TemplateWalker:
    """`detect.template._walk` over libxml2's nodes, hashing each distinct shingle: no Python object per element.

    `walk(top, start, hashes, limit, skip)` adds to `hashes` `hasher(shingle)` for the path shingle of every
    element below `top` that the walk enters (the UTF-8 labels of the element and of its `path_depth` nearest
    ancestors joined by NUL, `start` being `top`'s path), entering at most `sibling_sample` children of one label
    per crowded parent and stopping after `limit` elements, and returns how many were visited. `make_label(tag,
    classes)` labels an element. Elements in `skip` (lxml elements) and their subtrees are left out.

    A walker keeps what it learnt for the next walks, of this page or the next (a site's pages share most
    labels and shingles): its labels, numbered from 1 as they are met, by tag and class attribute, and the hash of
    every path met, a path being packed into 64 bits (16 bits a label, 0 for none). So a walk allocates nothing
    per element, and a shingle is joined and hashed once. It forgets all of it past `MAX_LABELS` labels or
    `MAX_PATHS` paths. Not thread-safe: one walker per thread.
    """

    MAX_LABELS = 0xFFFF
    MAX_PATHS = 1 << 16

    cdef object make_label
    cdef object hasher
    cdef Py_ssize_t path_depth
    cdef Py_ssize_t sibling_sample
    cdef unsigned long long keep
    cdef list labels  # label strings by number; 0 is no label
    cdef list encoded  # the same, UTF-8
    cdef dict numbers  # label string -> number, so one label met through two spellings has one number
    cdef dict hashed  # packed path -> its hash, for every path met so far
    cdef _LabelTable table
    cdef _ShingleSet met  # packed paths of the current walk
    cdef Py_ssize_t* stamps  # per label: the serial of the crowded parent whose children it last counted
    cdef Py_ssize_t* counts
    cdef Py_ssize_t counted  # labels the two arrays above have room for
    cdef Py_ssize_t serial

    def __cinit__(self, make_label, hasher, Py_ssize_t path_depth, Py_ssize_t sibling_sample):
        if not 0 <= path_depth <= 3:
            raise ValueError(f"path_depth must be 0-3 to pack a path in 64 bits, not {path_depth}")
        self.make_label = make_label
        self.hasher = hasher
        self.path_depth = path_depth
        self.sibling_sample = sibling_sample
        self.keep = (1ULL << (16 * path_depth)) - 1
        self.table.slots = NULL
        self.table.capacity = 0
        self.table.used = 0
        self.met.values = NULL
        self.met.capacity = 0
        self.met.used = 0
        self.stamps = NULL
        self.counts = NULL
        self.counted = 0
        self.serial = 0
        self._forget()

    def __dealloc__(self):
        _label_free(&self.table)
        PyMem_Free(self.met.values)
        PyMem_Free(self.stamps)
        PyMem_Free(self.counts)

    cdef int _forget(self) except -1:
        _label_free(&self.table)
        _label_grow(&self.table)
        self.labels = [None]
        self.encoded = [None]
        self.numbers = {}
        self.hashed = {}
        return 0

    @property
    def sizes(self):
        """(labels, paths) the walker knows."""
        return len(self.labels) - 1, len(self.hashed)

    cdef Py_ssize_t _number(self, str text) except -1:
        cdef Py_ssize_t label = self.numbers.get(text, 0)
        if not label:
            if len(self.labels) > self.MAX_LABELS:
                raise OverflowError("too many labels")  # walk() forgets and starts again
            self.labels.append(text)
            self.encoded.append(text.encode("utf-8", "surrogatepass"))
            label = self.numbers[text] = len(self.labels) - 1
        return label

    cdef Py_ssize_t _label_of(self, xmlNode* node) except -1:
        cdef xmlAttr* attr = _attribute(node, "class")
        cdef const char* classes = NULL
        cdef const unsigned char* ns = node.ns.href if node.ns is not NULL else NULL
        cdef bytes joined
        cdef size_t j
        cdef _LabelSlot* slot
        if attr is not NULL:
            classes = _simple_value(attr)
            if classes is NULL:  # a value held in several nodes: join them
                joined = _value(attr)
                classes = joined
        j = _label_key(node.name, ns, classes) & (self.table.capacity - 1)
        while self.table.slots[j].name is not NULL:
            if _slot_is(&self.table.slots[j], node.name, ns, classes):
                return self.table.slots[j].label
            j = (j + 1) & (self.table.capacity - 1)
        tag = _node_tag(node)
        label = self._number(tag if attr is NULL else self.make_label(tag, (<bytes>classes).decode("utf-8")))
        slot = &self.table.slots[j]
        slot.name = _copy(node.name)
        slot.ns = _copy(ns)
        slot.classes = _copy(<const unsigned char*>classes)
        slot.label = label
        self.table.used += 1
        if 2 * self.table.used > self.table.capacity:
            _label_grow(&self.table)
        return label

    cdef bint _sampled_out(self, Py_ssize_t label) except -1:
        """Whether a child with this label is one too many of the current crowded parent; counts it if not."""
        cdef Py_ssize_t i
        cdef Py_ssize_t grown
        cdef Py_ssize_t* stamps
        cdef Py_ssize_t* counts
        if label >= self.counted:
            grown = max(2 * self.counted, label + 64)
            stamps = <Py_ssize_t*>PyMem_Realloc(self.stamps, grown * sizeof(Py_ssize_t))
            if stamps is NULL:
                raise MemoryError()
            self.stamps = stamps
            counts = <Py_ssize_t*>PyMem_Realloc(self.counts, grown * sizeof(Py_ssize_t))
            if counts is NULL:
                raise MemoryError()
            self.counts = counts
            for i in range(self.counted, grown):
                self.stamps[i] = 0
            self.counted = grown
        if self.stamps[label] != self.serial:
            self.stamps[label] = self.serial
            self.counts[label] = 0
        if self.counts[label] >= self.sibling_sample:
            return True
        self.counts[label] += 1
        return False

    def walk(self, cetree._Element top not None, tuple start, set hashes, Py_ssize_t limit, skip=None):
        if len(self.labels) > self.MAX_LABELS // 2 or len(self.hashed) > self.MAX_PATHS:
            self._forget()
        try:
            return self._walk(top, start, hashes, limit, skip)
        except OverflowError:  # one page with more labels than a path can pack: start again from nothing
            self._forget()
            return self._walk(top, start, hashes, limit, skip)

    cdef Py_ssize_t _walk(self, cetree._Element top, tuple start, set hashes, Py_ssize_t limit, skip) except -1:
        cdef xmlNode* node
        cdef xmlNode* child
        cdef Py_ssize_t visited = 0
        cdef Py_ssize_t depth = 0
        cdef Py_ssize_t capacity = 64
        cdef Py_ssize_t label
        cdef Py_ssize_t i
        cdef bint crowded
        cdef set skipped = set()
        cdef bint skipping
        cdef unsigned long long base
        cdef unsigned long long path = 0
        cdef xmlNode** stack = NULL
        cdef xmlNode** grown_stack
        cdef unsigned long long* paths = NULL
        cdef unsigned long long* grown_paths
        if skip:
            for element in skip:
                if isinstance(element, cetree._Element):
                    skipped.add(<size_t>(<cetree._Element>element)._c_node)
        skipping = len(skipped) > 0
        for text in start[-(self.path_depth + 1):]:
            path = (path << 16) | <unsigned long long>self._number(text)
        self.met.used = 0
        for i in range(self.met.capacity):
            self.met.values[i] = 0
        try:
            stack = <xmlNode**>PyMem_Realloc(NULL, capacity * sizeof(xmlNode*))
            paths = <unsigned long long*>PyMem_Realloc(NULL, capacity * sizeof(unsigned long long))
            if stack is NULL or paths is NULL:
                raise MemoryError()
            stack[0] = top._c_node
            paths[0] = path
            depth = 1
            while depth and visited < limit:
                depth -= 1
                node = stack[depth]
                base = (paths[depth] & self.keep) << 16
                crowded = _child_count(node) > self.sibling_sample
                if crowded:
                    self.serial += 1
                child = node.children
                while child is not NULL:
                    if child.type != XML_ELEMENT_NODE or (skipping and (<size_t>child) in skipped):
                        child = child.next
                        continue
                    label = self._label_of(child)
                    if crowded and self._sampled_out(label):
                        child = child.next
                        continue
                    path = base | <unsigned long long>label
                    _shingle_add(&self.met, path)
                    visited += 1
                    _let_others_run()
                    if visited >= limit:
                        break
                    if _has_child_node(child):
                        if depth == capacity:
                            capacity *= 2
                            grown_stack = <xmlNode**>PyMem_Realloc(stack, capacity * sizeof(xmlNode*))
                            if grown_stack is NULL:
                                raise MemoryError()
                            stack = grown_stack
                            grown_paths = <unsigned long long*>PyMem_Realloc(
                                paths, capacity * sizeof(unsigned long long)
                            )
                            if grown_paths is NULL:
                                raise MemoryError()
                            paths = grown_paths
                        stack[depth] = child
                        paths[depth] = path
                        depth += 1
                    child = child.next
            hashed = self.hashed
            encoded = self.encoded
            for i in range(self.met.capacity):
                path = self.met.values[i]
                if path:
                    value = hashed.get(path)
                    if value is None:
                        parts = []
                        while path:
                            parts.append(encoded[path & 0xFFFF])
                            path >>= 16
                        parts.reverse()
                        value = hashed[self.met.values[i]] = self.hasher(b"\x00".join(parts))
                    hashes.add(value)
            return visited
        finally:
            PyMem_Free(stack)
            PyMem_Free(paths)
