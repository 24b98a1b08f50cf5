/* Shared by the parts of scanner._textdiff (see _textdiff.c): a text's lines, hashed, and the blocks of a region's
 * lines that another text does not have (_textdiff_lines.c); narrowing with a memo of the old version's lines
 * (_textdiff_memo.c). */
#ifndef LEAKSTOP_TEXTDIFF_H
#define LEAKSTOP_TEXTDIFF_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static inline uint64_t
load64(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

/* Newlines in p[0, n): the line number of a region's start counts the whole common prefix, most of the file, at
 * every later version of a path (about 1 GB over pytest's history), and narrowing counts a region's lines. With
 * SSE2 (every x86-64) 16 bytes a step, their counts summed in bytes for up to 255 steps: about 0.2 instructions a
 * byte, against 1 for the plain loop that the compiler vectorises with 64-bit sums (callgrind); elsewhere that loop. */
static inline Py_ssize_t
td_count_newlines(const unsigned char *p, Py_ssize_t n)
{
    Py_ssize_t total = 0, i = 0;
#if defined(__SSE2__)
    const __m128i newline = _mm_set1_epi8('\n');
    while (n - i >= 16) {
        Py_ssize_t stop = i + (n - i >= 255 * 16 ? 255 * 16 : (n - i) / 16 * 16);
        __m128i counts = _mm_setzero_si128();
        for (; i < stop; i += 16) { /* an equal byte is 0xff (-1): subtracting it adds one */
            counts = _mm_sub_epi8(counts, _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + i)), newline));
        }
        __m128i sums = _mm_sad_epu8(counts, _mm_setzero_si128()); /* two 64-bit lanes of at most 8 * 255 */
        total += _mm_cvtsi128_si32(sums) + _mm_cvtsi128_si32(_mm_unpackhi_epi64(sums, sums));
    }
#endif
    for (; i < n; i++) {
        total += p[i] == '\n';
    }
    return total;
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
