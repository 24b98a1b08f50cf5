/* The candidate base64 and hex spans of a bytes object: the C twin of ``py_candidates`` in decode.py.
 *
 * decode.py finds runs of at least MIN_RUN base64 characters and filters them before decoding. In Python that
 * costs a translated copy of the content and a few method calls per run; on a history scan it was a fifth of the
 * CPU. This does the same in one pass over the bytes, and must give exactly what the Python code gives (the
 * tests compare the two on arbitrary input). No dependencies beyond the CPython API.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define MIN_RUN 20   /* decode.MIN_RUN */
#define MIN_HEX 24   /* _HEX_RUN: (?:[0-9a-fA-F]{2}){12,} */

static unsigned char is_b64[256];   /* _B64_CHARS: A-Z a-z 0-9 + / - _ */
static unsigned char is_hex[256];
static unsigned char is_lead[256];  /* _TEXT_LEADS: A-Z a-f, the lead of a quartet that encodes ASCII */
static PyObject *kind_hex;
static PyObject *kind_base64;

static int
append(PyObject *out, Py_ssize_t start, Py_ssize_t end, PyObject *kind)
{
    PyObject *item = Py_BuildValue("(nnO)", start, end, kind);
    if (item == NULL)
        return -1;
    int rc = PyList_Append(out, item);
    Py_DECREF(item);
    return rc;
}

/* One run s[start:run_end] of base64 characters, at least MIN_RUN long: append its candidate, if any. */
static int
examine(PyObject *out, const unsigned char *s, Py_ssize_t n, Py_ssize_t start, Py_ssize_t run_end)
{
    int lower = 0, upper = 0, digits = 1, hex = 1;
    for (Py_ssize_t k = start; k < run_end; k++) {
        unsigned char c = s[k];
        lower |= (c >= 'a' && c <= 'z');
        upper |= (c >= 'A' && c <= 'Z');
        digits &= (c >= '0' && c <= '9');
        hex &= is_hex[c];
    }
    Py_ssize_t len = run_end - start;
    /* bytes.islower() or isupper() or isdigit(): one case only (identifiers, names, hex) */
    if ((lower ^ upper) || digits) {
        if (hex && len % 2 == 0 && len >= MIN_HEX)
            return append(out, start, run_end, kind_hex);
        return 0;
    }
    Py_ssize_t not_text = 0;
    for (Py_ssize_t k = start; k < run_end; k += 4)
        not_text += !is_lead[s[k]];
    if (not_text * 20 > len * 3 / 4)
        return 0;
    Py_ssize_t end = run_end;
    while (end < n && end - run_end < 2 && s[end] == '=')
        end++;
    return append(out, start, end, kind_base64);
}

static PyObject *
candidates(PyObject *module, PyObject *arg)
{
    (void)module;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    const unsigned char *s = (const unsigned char *)view.buf;
    Py_ssize_t n = view.len;
    PyObject *out = PyList_New(0);
    if (out == NULL)
        goto done;
    /* Probe the last byte of a window of MIN_RUN: if it is not base64, no run of MIN_RUN overlaps the window and
     * the search jumps past it (most text has short words). Invariant: i == 0 or s[i - 1] is not base64. */
    Py_ssize_t i = 0;
    while (i + MIN_RUN <= n) {
        Py_ssize_t probe = i + MIN_RUN - 1;
        if (!is_b64[s[probe]]) {
            i = probe + 1;
            continue;
        }
        Py_ssize_t start = probe;
        while (start > i && is_b64[s[start - 1]])
            start--;
        Py_ssize_t end = probe + 1;
        while (end < n && is_b64[s[end]])
            end++;
        if (end - start >= MIN_RUN && examine(out, s, n, start, end) < 0) {
            Py_CLEAR(out);
            goto done;
        }
        i = end + 1;
    }
done:
    PyBuffer_Release(&view);
    return out;
}

/* Is there a percent escape (%XX) and a JSON string escape (\/ or \uXXXX) in content: bit 1 and bit 2, what
 * decode.py_escapes gives with the regexes that find them. Most chunks have a '%' or a backslash (format strings,
 * regexes, paths) but no escape: this tells it with memchr, where the regexes' passes cost more. */
static int
escape_at(const unsigned char *s, Py_ssize_t n, Py_ssize_t i)
{
    if (s[i] == '%') {
        return i + 2 < n && is_hex[s[i + 1]] && is_hex[s[i + 2]] ? 1 : 0;
    }
    if (i + 1 < n && s[i + 1] == '/') {
        return 2;
    }
    return i + 5 < n && s[i + 1] == 'u' && is_hex[s[i + 2]] && is_hex[s[i + 3]] && is_hex[s[i + 4]] && is_hex[s[i + 5]]
               ? 2
               : 0;
}

static int
first_escapes(const unsigned char *s, Py_ssize_t n, unsigned char mark, int bit)
{
    const unsigned char *p = s, *end = s + n;
    while ((p = memchr(p, mark, (size_t)(end - p))) != NULL) {
        if (escape_at(s, n, p - s) == bit) {
            return bit;
        }
        p++;
    }
    return 0;
}

static PyObject *
escapes(PyObject *module, PyObject *arg)
{
    (void)module;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    const unsigned char *s = (const unsigned char *)view.buf;
    int found = first_escapes(s, view.len, '%', 1) | first_escapes(s, view.len, '\\', 2);
    PyBuffer_Release(&view);
    return PyLong_FromLong(found);
}

static PyMethodDef methods[] = {
    {"candidates", candidates, METH_O,
     "candidates(content) -> [(start, end, kind)]: the base64 and hex spans worth decoding, kind 'hex' or "
     "'base64'."},
    {"escapes", escapes, METH_O,
     "escapes(content) -> int: 1 if it holds a percent escape (%XX), 2 if a JSON string escape (a backslash, then / "
     "or u and 4 hex digits), both or'ed."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_spans", "Candidate base64 and hex spans (C twin of scanner.detect.decode).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__spans(void)
{
    const char *b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_";
    const char *hexdigits = "0123456789abcdefABCDEF";
    const char *leads = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef";
    for (const char *p = b64; *p; p++)
        is_b64[(unsigned char)*p] = 1;
    for (const char *p = hexdigits; *p; p++)
        is_hex[(unsigned char)*p] = 1;
    for (const char *p = leads; *p; p++)
        is_lead[(unsigned char)*p] = 1;
    if (kind_hex == NULL && (kind_hex = PyUnicode_InternFromString("hex")) == NULL)
        return NULL;
    if (kind_base64 == NULL && (kind_base64 = PyUnicode_InternFromString("base64")) == NULL)
        return NULL;
    return PyModule_Create(&module_def);
}
