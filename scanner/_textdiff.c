/* What changed between two versions of a file, in C: the speed-ups of scanner/textdiff.py, whose Python functions
 * are the specifications (and the fallbacks where this does not build).
 *
 * changed_span(old, new, context, context_bytes) -> (start, end, first line): textdiff._changed_span_py.
 * narrow(old, new, start, end, ...): a changed region's new lines with their context (textdiff._novel_blocks_py),
 * with old's lines from a memo (_textdiff_memo.c).
 *
 * The Python docstrings there say exactly which bytes and lines are meant; this computes the same.
 *
 * The old lines go into an open-addressing hash set (their offsets, lengths and hashes); each region line is one
 * hash and usually one probe. In Python the same costs two splits, a set of bytes objects and a join per block.
 */
#include "_textdiff.h"

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
    return Py_BuildValue("(nnn)", start, end, 1 + td_count_newlines(new, start));
}

static PyMethodDef methods[] = {
    {"changed_span", changed_span, METH_VARARGS,
     "changed_span(old, new, context, context_bytes) -> (start, end, first line number) of the region of new that "
     "changed (scanner.textdiff._changed_span_py is the specification)."},
    {"narrow", td_narrow, METH_VARARGS,
     "narrow(old, new, start, end, context, context_bytes, memo, cut) -> (blocks or None, memo, lines): a changed "
     "region's new lines with old's lines from its memo (see scanner.textdiff.changed_regions)."},
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
