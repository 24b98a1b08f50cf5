/* Shared by the parts of scanner._textdiff (see _textdiff.c): a text's lines, hashed, and the blocks of a region's
 * lines that another text does not have (_textdiff_lines.c); narrowing with a memo of the old version's lines
 * (_textdiff_memo.c). */
#ifndef LEAKSTOP_TEXTDIFF_H
#define LEAKSTOP_TEXTDIFF_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t
load64(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

/* A text's lines, as ``split(b"\n")`` gives them: count of them, each one's hash, and its offset; start[count]
 * is the text's length + 1 (the offset a next line would have), so line k is [start[k], start[k + 1] - 1). */
typedef struct {
    Py_ssize_t count;
    uint64_t *hash;
    Py_ssize_t *start;
} Lines;

Py_ssize_t td_count_lines(const unsigned char *text, Py_ssize_t len);
Lines td_lines_of(const unsigned char *text, Py_ssize_t len, Py_ssize_t shift);
void td_lines_free(Lines *lines);
uint64_t td_line_hash(const unsigned char *p, Py_ssize_t n);
PyObject *td_blocks_against(const unsigned char *old, const Lines *old_lines, const unsigned char *region,
                            const Lines *lines, const unsigned char *known, Py_ssize_t context,
                            Py_ssize_t context_bytes);
int td_check_context(Py_ssize_t context, Py_ssize_t context_bytes);
PyObject *td_narrow(PyObject *module, PyObject *args);

#endif
