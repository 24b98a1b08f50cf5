/* A text's lines as split(b"\n") gives them, hashed, in an open-addressing set; the blocks of a region's lines
 * that are not in another text's set, with their context (textdiff._novel_blocks_py is the specification). */
#include "_textdiff.h"

typedef struct {
    uint64_t hash;
    Py_ssize_t start; /* -1: empty slot */
    Py_ssize_t len;
} Slot;

/* Words of 8 bytes; the last (partial) word is read as the 8 bytes that end the line, overlapping the one before
 * (lines of 8 bytes or more), or as two overlapping 4-byte reads (4 to 7 bytes): no loop over single bytes. The
 * length is mixed in, so lines that differ in length differ in hash. The words before the last go to two lanes
 * in turn (xor, multiply), mixed at the end: one chain of dependent multiplies was the hash's cost (hashing a
 * 1.7 MB region of 85-byte lines: 385 -> 327 us). Only the table's spread depends on it: equal lines are found
 * by comparing their bytes. */
uint64_t
td_line_hash(const unsigned char *p, Py_ssize_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)n, last;
    if (n >= 8) {
        const unsigned char *end = p + n - 8;
        uint64_t g = 0x2545F4914F6CDD1DULL;
        while (end - p > 8) { /* two lanes: their multiplies do not wait on each other */
            h = (h ^ load64(p)) * 0xFF51AFD7ED558CCDULL;
            g = (g ^ load64(p + 8)) * 0xC4CEB9FE1A85EC53ULL;
            p += 16;
        }
        if (p < end) {
            h = (h ^ load64(p)) * 0xFF51AFD7ED558CCDULL;
        }
        h ^= (g ^ (g >> 29)) + (h >> 32);
        last = load64(end);
    }
    else if (n >= 4) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + n - 4, 4);
        last = (uint64_t)lo | ((uint64_t)hi << 32);
    }
    else {
        last = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            last |= (uint64_t)p[i] << (8 * i);
        }
    }
    h = (h ^ last) * 0xC4CEB9FE1A85EC53ULL;
    h ^= h >> 29;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 32;
    return h;
}

Py_ssize_t
td_count_lines(const unsigned char *text, Py_ssize_t len)
{
    return 1 + td_count_newlines(text, len);
}

/* Hashes and offsets of the lines of text[0:len] into the arrays at hash / start (td_count_lines(text, len) of
 * them, and the start after the last); offsets are relative to text, plus shift. */
static void
hash_lines(const unsigned char *text, Py_ssize_t len, Py_ssize_t shift, uint64_t *hash, Py_ssize_t *start)
{
    Py_ssize_t at = 0, k = 0;
    for (;;) {
        const unsigned char *nl = memchr(text + at, '\n', (size_t)(len - at));
        Py_ssize_t n = nl == NULL ? len - at : (Py_ssize_t)(nl - text) - at;
        hash[k] = td_line_hash(text + at, n);
        start[k++] = at + shift;
        at += n + 1;
        if (nl == NULL) {
            start[k] = at + shift;
            return;
        }
    }
}

/* Lines of text, in memory of their own (lines_free): NULL arrays when out of memory. */
Lines
td_lines_of(const unsigned char *text, Py_ssize_t len, Py_ssize_t shift)
{
    Lines lines = {td_count_lines(text, len), NULL, NULL};
    lines.hash = PyMem_Malloc((size_t)lines.count * sizeof(uint64_t));
    lines.start = PyMem_Malloc((size_t)(lines.count + 1) * sizeof(Py_ssize_t));
    if (lines.hash != NULL && lines.start != NULL) {
        hash_lines(text, len, shift, lines.hash, lines.start);
    }
    return lines;
}

void
td_lines_free(Lines *lines)
{
    PyMem_Free(lines->hash);
    PyMem_Free(lines->start);
    lines->hash = NULL;
    lines->start = NULL;
}

typedef struct {
    Slot *slots;
    size_t mask;
    const unsigned char *base;
} LineSet;

/* The slot holding this line, or the empty slot where it would go. */
static Slot *
lineset_find(const LineSet *set, const unsigned char *line, Py_ssize_t len, uint64_t hash)
{
    size_t i = (size_t)hash & set->mask;
    for (;;) {
        Slot *slot = &set->slots[i];
        if (slot->start < 0) {
            return slot;
        }
        if (slot->hash == hash && slot->len == len && memcmp(set->base + slot->start, line, (size_t)len) == 0) {
            return slot;
        }
        i = (i + 1) & set->mask;
    }
}

/* Every line of old (hashed already: lines) in a table at a load of at most one half; -1 when out of memory. */
static int
lineset_fill(LineSet *set, const unsigned char *old, const Lines *lines)
{
    size_t size = 16;
    while (size < 2 * (size_t)lines->count) {
        size <<= 1;
    }
    set->slots = PyMem_Malloc(size * sizeof(Slot));
    if (set->slots == NULL) {
        return -1;
    }
    for (size_t i = 0; i < size; i++) {
        set->slots[i].start = -1;
    }
    set->mask = size - 1;
    set->base = old;
    for (Py_ssize_t k = 0; k < lines->count; k++) {
        Py_ssize_t start = lines->start[k], len = lines->start[k + 1] - 1 - start;
        Slot *slot = lineset_find(set, old + start, len, lines->hash[k]);
        if (slot->start < 0) {
            slot->hash = lines->hash[k];
            slot->start = start;
            slot->len = len;
        }
    }
    return 0;
}

/* Appends (start, end, lo) for lines [lo, hi); starts[k] is the offset of line k, starts[count] == region length + 1. */
static int
append_block(PyObject *out, const Py_ssize_t *starts, Py_ssize_t lo, Py_ssize_t hi)
{
    PyObject *item = Py_BuildValue("(nnn)", starts[lo], starts[hi] - 1, lo);
    if (item == NULL) {
        return -1;
    }
    int rc = PyList_Append(out, item);
    Py_DECREF(item);
    return rc;
}

/* The blocks of the region's lines (their offsets, the first at 0) that are not in old (known[i] == 0). */
static PyObject *
blocks_of(const unsigned char *known, const Lines *region, Py_ssize_t context, Py_ssize_t context_bytes)
{
    const Py_ssize_t *starts = region->start, lines = region->count;
    PyObject *out = PyList_New(0);
    Py_ssize_t block_lo = -1, block_hi = -1;
    for (Py_ssize_t i = 0; out != NULL && i < lines; i++) {
        if (known[i]) {
            continue;
        }
        /* Back: context lines, and on to the line holding the byte context_bytes before this line. Lines at
         * or before block_hi are in the block already: the walk stops there (the block is the same). */
        Py_ssize_t lo = i > context ? i - context : 0, floor = block_hi > 0 ? block_hi : 0;
        while (lo > floor && starts[i] - starts[lo] < context_bytes) {
            lo--;
        }
        /* Forward: context lines, and on until context_bytes after this line's end are in. */
        Py_ssize_t hi = lines - i > context + 1 ? i + context + 1 : lines;
        if (block_hi > hi) {
            hi = block_hi;
        }
        while (hi < lines && starts[hi] < starts[i + 1] + context_bytes) {
            hi++;
        }
        if (lo > block_hi) {
            if (block_hi > block_lo && append_block(out, starts, block_lo, block_hi) < 0) {
                Py_CLEAR(out);
            }
            block_lo = lo;
        }
        block_hi = hi;
    }
    if (out != NULL && block_hi > block_lo && append_block(out, starts, block_lo, block_hi) < 0) {
        Py_CLEAR(out);
    }
    return out;
}

/* The blocks of region's lines that are nowhere in old (old's lines hashed already). known: one byte a region
 * line, 1 where it is known to be in old already (NULL: none is), else 0; the others are looked up in a set of
 * old's lines, built only if there are any. */
PyObject *
td_blocks_against(const unsigned char *old, const Lines *old_lines, const unsigned char *region, const Lines *lines,
                  const unsigned char *known, Py_ssize_t context, Py_ssize_t context_bytes)
{
    LineSet set = {NULL, 0, NULL};
    PyObject *out = NULL;
    unsigned char *in_old = PyMem_Calloc((size_t)lines->count + 1, 1);
    if (in_old == NULL) {
        return PyErr_NoMemory();
    }
    if (known != NULL) {
        memcpy(in_old, known, (size_t)lines->count);
    }
    Py_ssize_t i = 0;
    while (i < lines->count && in_old[i]) {
        i++;
    }
    if (i < lines->count && lineset_fill(&set, old, old_lines) < 0) {
        PyErr_NoMemory();
    }
    else {
        for (; i < lines->count; i++) {
            Py_ssize_t len = lines->start[i + 1] - 1 - lines->start[i];
            in_old[i] = in_old[i] || lineset_find(&set, region + lines->start[i], len, lines->hash[i])->start >= 0;
        }
        out = blocks_of(in_old, lines, context, context_bytes);
    }
    PyMem_Free(set.slots);
    PyMem_Free(in_old);
    return out;
}

int
td_check_context(Py_ssize_t context, Py_ssize_t context_bytes)
{
    if (context < 0 || context_bytes < 0) {
        PyErr_SetString(PyExc_ValueError, "context must not be negative");
        return -1;
    }
    return 0;
}
