/* What changed between two versions of a file, in C: the speed-ups of scanner/textdiff.py, whose Python functions
 * are the specifications (and the fallbacks where this does not build).
 *
 * changed_span(old, new, context, context_bytes) -> (start, end, first line): textdiff._changed_span_py.
 * novel_blocks(old, region, context, context_bytes) -> list[tuple[int, int, int]]: textdiff._novel_blocks_py.
 *
 * The Python docstrings there say exactly which bytes and lines are meant; this computes the same.
 *
 * The old lines go into an open-addressing hash set (their offsets, lengths and hashes); each region line is one
 * hash and usually one probe. In Python the same costs two splits, a set of bytes objects and a join per block.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    uint64_t hash;
    Py_ssize_t start; /* -1: empty slot */
    Py_ssize_t len;
} Slot;

static inline uint64_t
load64(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

/* Words of 8 bytes; the last (partial) word is read as the 8 bytes that end the line, overlapping the one before
 * (lines of 8 bytes or more), or as two overlapping 4-byte reads (4 to 7 bytes): no loop over single bytes. The
 * length is mixed in, so lines that differ in length differ in hash. */
static uint64_t
line_hash(const unsigned char *p, Py_ssize_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)n, last;
    if (n >= 8) {
        const unsigned char *end = p + n - 8;
        while (p < end) {
            h = (h ^ load64(p)) * 0xFF51AFD7ED558CCDULL;
            h ^= h >> 32;
            p += 8;
        }
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

typedef struct {
    Slot *slots;
    size_t mask;
    const unsigned char *base;
} LineSet;

/* Room for every line of ``old`` at a load of at most one half. */
static int
lineset_init(LineSet *set, const unsigned char *old, Py_ssize_t old_len)
{
    size_t lines = 1;
    const unsigned char *p = old, *end = old + old_len;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        lines++;
        p++;
    }
    size_t size = 16;
    while (size < 2 * lines) {
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
    return 0;
}

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

static void
lineset_fill(LineSet *set, const unsigned char *old, Py_ssize_t old_len)
{
    Py_ssize_t start = 0;
    for (;;) {
        const unsigned char *nl = memchr(old + start, '\n', (size_t)(old_len - start));
        Py_ssize_t len = nl == NULL ? old_len - start : (Py_ssize_t)(nl - old) - start;
        uint64_t hash = line_hash(old + start, len);
        Slot *slot = lineset_find(set, old + start, len, hash);
        if (slot->start < 0) {
            slot->hash = hash;
            slot->start = start;
            slot->len = len;
        }
        if (nl == NULL) {
            return;
        }
        start += len + 1;
    }
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

/* Line starts of the region: starts[0 .. lines - 1], and starts[lines] == length + 1. NULL when out of memory. */
static Py_ssize_t *
line_starts(const unsigned char *region, Py_ssize_t region_len, Py_ssize_t *lines)
{
    size_t count = 1;
    const unsigned char *p = region, *end = region + region_len;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        count++;
        p++;
    }
    Py_ssize_t *starts = PyMem_Malloc((count + 1) * sizeof(Py_ssize_t));
    if (starts == NULL) {
        return NULL;
    }
    starts[0] = 0;
    p = region;
    for (size_t k = 1; k < count; k++) {
        p = memchr(p, '\n', (size_t)(end - p)) + 1;
        starts[k] = p - region;
    }
    starts[count] = region_len + 1;
    *lines = (Py_ssize_t)count;
    return starts;
}

static PyObject *
blocks_of(const LineSet *set, const unsigned char *region, const Py_ssize_t *starts, Py_ssize_t lines,
          Py_ssize_t context, Py_ssize_t context_bytes)
{
    PyObject *out = PyList_New(0);
    Py_ssize_t block_lo = -1, block_hi = -1;
    for (Py_ssize_t i = 0; out != NULL && i < lines; i++) {
        Py_ssize_t len = starts[i + 1] - 1 - starts[i];
        if (lineset_find(set, region + starts[i], len, line_hash(region + starts[i], len))->start >= 0) {
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

static PyObject *
novel_blocks(PyObject *Py_UNUSED(module), PyObject *args)
{
    const unsigned char *old;
    Py_buffer view; /* the region: bytes, or a memoryview of the new version (textdiff slices it without a copy) */
    Py_ssize_t old_len, context, context_bytes, lines = 0;
    if (!PyArg_ParseTuple(args, "y#y*nn:novel_blocks", &old, &old_len, &view, &context, &context_bytes)) {
        return NULL;
    }
    PyObject *out = NULL;
    const unsigned char *region = view.buf;
    LineSet set = {NULL, 0, NULL};
    Py_ssize_t *starts = NULL;
    if (context < 0 || context_bytes < 0) {
        PyErr_SetString(PyExc_ValueError, "context must not be negative");
    }
    else if ((starts = line_starts(region, view.len, &lines)) == NULL || lineset_init(&set, old, old_len) < 0) {
        PyErr_NoMemory();
    }
    else {
        lineset_fill(&set, old, old_len);
        out = blocks_of(&set, region, starts, lines, context, context_bytes);
    }
    PyMem_Free(set.slots);
    PyMem_Free(starts);
    PyBuffer_Release(&view);
    return out;
}

/* Bytes at the start of a and b that are equal, at most limit: memcmp over blocks, then words, then bytes. */
static Py_ssize_t
common_prefix(const unsigned char *a, const unsigned char *b, Py_ssize_t limit)
{
    Py_ssize_t n = 0;
    while (limit - n >= 512 && memcmp(a + n, b + n, 512) == 0) {
        n += 512;
    }
    while (limit - n >= 8 && load64(a + n) == load64(b + n)) {
        n += 8;
    }
    while (n < limit && a[n] == b[n]) {
        n++;
    }
    return n;
}

/* Bytes at the end of a and b (a_end, b_end point past them) that are equal, at most limit. */
static Py_ssize_t
common_suffix(const unsigned char *a_end, const unsigned char *b_end, Py_ssize_t limit)
{
    Py_ssize_t n = 0;
    while (limit - n >= 512 && memcmp(a_end - n - 512, b_end - n - 512, 512) == 0) {
        n += 512;
    }
    while (limit - n >= 8 && load64(a_end - n - 8) == load64(b_end - n - 8)) {
        n += 8;
    }
    while (n < limit && a_end[-n - 1] == b_end[-n - 1]) {
        n++;
    }
    return n;
}

/* bytes.rfind(b"\n", 0, stop): the last newline before stop, or -1. */
static Py_ssize_t
newline_before(const unsigned char *p, Py_ssize_t stop)
{
    while (stop > 0) {
        if (p[--stop] == '\n') {
            return stop;
        }
    }
    return -1;
}

/* bytes.find(b"\n", from) for a bytes object of length len: the first newline at or after from, or -1. */
static Py_ssize_t
newline_from(const unsigned char *p, Py_ssize_t len, Py_ssize_t from)
{
    if (from >= len) {
        return -1;
    }
    const unsigned char *nl = memchr(p + from, '\n', (size_t)(len - from));
    return nl == NULL ? -1 : (Py_ssize_t)(nl - p);
}

static PyObject *
changed_span(PyObject *Py_UNUSED(module), PyObject *args)
{
    const unsigned char *old, *new;
    Py_ssize_t old_len, len, context, context_bytes;
    if (!PyArg_ParseTuple(args, "y#y#nn:changed_span", &old, &old_len, &new, &len, &context, &context_bytes)) {
        return NULL;
    }
    if (context < 0 || context_bytes < 0) {
        PyErr_SetString(PyExc_ValueError, "context must not be negative");
        return NULL;
    }
    if (old_len == len && memcmp(old, new, (size_t)len) == 0) {
        return Py_BuildValue("(nnn)", (Py_ssize_t)0, (Py_ssize_t)0, (Py_ssize_t)0);
    }
    Py_ssize_t shorter = old_len < len ? old_len : len;
    Py_ssize_t prefix = common_prefix(old, new, shorter);
    Py_ssize_t tail = len - common_suffix(old + old_len, new + len, shorter - prefix);
    Py_ssize_t start = prefix, end = tail, found;
    for (Py_ssize_t k = 0; k <= context && start > 0; k++) {
        start = newline_before(new, start - 1) + 1;
    }
    for (Py_ssize_t k = 0; k <= context && end < len; k++) {
        found = newline_from(new, len, end);
        end = found < 0 ? len : found + 1;
    }
    if (prefix - start < context_bytes && start > 0) {
        start = newline_before(new, prefix > context_bytes ? prefix - context_bytes : 0) + 1;
    }
    if (end - tail < context_bytes && end < len) {
        found = newline_from(new, len, tail + context_bytes);
        end = found < 0 ? len : found + 1;
    }
    Py_ssize_t line = 1;
    for (Py_ssize_t i = 0; i < start; i++) {
        line += new[i] == '\n';
    }
    return Py_BuildValue("(nnn)", start, end, line);
}

static PyMethodDef methods[] = {
    {"changed_span", changed_span, METH_VARARGS,
     "changed_span(old, new, context, context_bytes) -> (start, end, first line number) of the region of new that "
     "changed (scanner.textdiff._changed_span_py is the specification)."},
    {"novel_blocks", novel_blocks, METH_VARARGS,
     "novel_blocks(old, region, context, context_bytes) -> list of (start, end, first line index): the blocks of region's new "
     "lines with context (scanner.textdiff._novel_blocks_py is the specification)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef_Slot slots[] = {
    {0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "scanner._textdiff",
    .m_doc = "The changed region and the new lines of a file's version, in C (see scanner/textdiff.py).",
    .m_size = 0,
    .m_methods = methods,
    .m_slots = slots,
};

PyMODINIT_FUNC
PyInit__textdiff(void)
{
    return PyModuleDef_Init(&module);
}
