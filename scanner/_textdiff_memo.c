#include "_textdiff.h"

/* A version's lines kept for the next version of the same path (textdiff's memos): the lines of a version are
 * the previous version's up to the changed region, the region's, then the previous version's after it, so each
 * version of a path is hashed once (the region), not twice (as the region, then whole as the next one's old). */
#define MEMO_NAME "scanner._textdiff.lines"

typedef struct {
    Lines lines;
    Py_ssize_t text_len;
} Memo;

static void
memo_free(PyObject *capsule)
{
    PyMem_Free(PyCapsule_GetPointer(capsule, MEMO_NAME));
}

/* A memo of count lines for a text of text_len bytes, its arrays in the same block; NULL when out of memory. */
static Memo *
memo_alloc(Py_ssize_t count, Py_ssize_t text_len)
{
    Memo *memo = PyMem_Malloc(sizeof(Memo) + (size_t)count * sizeof(uint64_t) + (size_t)(count + 1) * sizeof(Py_ssize_t));
    if (memo != NULL) {
        memo->lines.count = count;
        memo->lines.hash = (uint64_t *)(memo + 1);
        memo->lines.start = (Py_ssize_t *)(memo->lines.hash + count);
        memo->text_len = text_len;
    }
    return memo;
}

/* The first k with start[k] >= offset (start is sorted; start[count] is past every offset asked). */
static Py_ssize_t
line_at(const Lines *lines, Py_ssize_t offset)
{
    Py_ssize_t lo = 0, hi = lines->count;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (lines->start[mid] < offset) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return lo;
}

/* The new version's lines: old's before offset start, the middle's (offsets from start), old's from old_end on
 * (none when old_end < 0). A capsule, or NULL with an exception (ValueError: the versions do not share them). */
static PyObject *
spliced(const Lines *old, const Lines *middle, Py_ssize_t start, Py_ssize_t old_end, Py_ssize_t len)
{
    Py_ssize_t k = line_at(old, start), j = old->count, shift = len - (old->start[old->count] - 1);
    if (old_end >= 0) {
        j = line_at(old, old_end);
    }
    if (old->start[k] != start || (old_end >= 0 && (j >= old->count || old->start[j] != old_end))) {
        PyErr_SetString(PyExc_ValueError, "the versions do not share the lines around the region");
        return NULL;
    }
    Memo *memo = memo_alloc(k + middle->count + old->count - j, len);
    if (memo == NULL) {
        return PyErr_NoMemory();
    }
    uint64_t *hash = memo->lines.hash;
    Py_ssize_t *at = memo->lines.start, n = middle->count;
    memcpy(hash, old->hash, (size_t)k * sizeof(uint64_t));
    memcpy(at, old->start, (size_t)k * sizeof(Py_ssize_t));
    memcpy(hash + k, middle->hash, (size_t)n * sizeof(uint64_t));
    for (Py_ssize_t i = 0; i <= n; i++) { /* the middle's end (start[n]) is the suffix's first start, or len + 1 */
        at[k + i] = middle->start[i] + start;
    }
    memcpy(hash + k + n, old->hash + j, (size_t)(old->count - j) * sizeof(uint64_t));
    for (Py_ssize_t i = j; i <= old->count && old_end >= 0; i++) {
        at[k + n + i - j] = old->start[i] + shift;
    }
    PyObject *capsule = PyCapsule_New(memo, MEMO_NAME, memo_free);
    if (capsule == NULL) {
        PyMem_Free(memo);
    }
    return capsule;
}

/* Old lines tried against each new line: the next one, and a few after it (lines taken out). */
#define LOOKAHEAD 4

static int
same_line(const unsigned char *old, const Lines *old_lines, Py_ssize_t k, const unsigned char *line, Py_ssize_t n)
{
    Py_ssize_t at = old_lines->start[k];
    return old_lines->start[k + 1] - 1 - at == n && memcmp(old + at, line, (size_t)n) == 0;
}

/* The lines of seg (new's middle) with their hashes. Walking old's lines from q (below j) alongside, a line equal
 * to the next old line or one of the few after it takes that line's hash and is known to be in old (known[i] =
 * 1): only lines where the versions differ are hashed (and, when cut, looked up in old's set). Which lines are
 * new does not depend on this walk, only how much hashing it takes. NULL arrays when out of memory. */
static Lines
aligned(const unsigned char *old, const Lines *old_lines, Py_ssize_t q, Py_ssize_t j, const unsigned char *seg,
        Py_ssize_t seg_len, unsigned char **known)
{
    Lines lines = {td_count_lines(seg, seg_len), NULL, NULL};
    lines.hash = PyMem_Malloc((size_t)lines.count * sizeof(uint64_t));
    lines.start = PyMem_Malloc((size_t)(lines.count + 1) * sizeof(Py_ssize_t));
    *known = PyMem_Malloc((size_t)lines.count);
    if (lines.hash == NULL || lines.start == NULL || *known == NULL) {
        return lines;
    }
    Py_ssize_t at = 0;
    for (Py_ssize_t i = 0; i < lines.count; i++) {
        const unsigned char *nl = memchr(seg + at, '\n', (size_t)(seg_len - at));
        Py_ssize_t n = nl == NULL ? seg_len - at : (Py_ssize_t)(nl - seg) - at, d = 0;
        while (d < LOOKAHEAD && q + d < j && !same_line(old, old_lines, q + d, seg + at, n)) {
            d++;
        }
        (*known)[i] = d < LOOKAHEAD && q + d < j;
        if ((*known)[i]) {
            lines.hash[i] = old_lines->hash[q + d];
            q += d + 1;
        }
        else {
            lines.hash[i] = td_line_hash(seg + at, n);
        }
        lines.start[i] = at;
        at += n + 1;
    }
    lines.start[lines.count] = at;
    return lines;
}

/* narrow(old, new, start, end, context, context_bytes, memo, cut) -> (blocks or None, memo of new, its lines).
 * [start, end) is changed_span's region of new (whole lines: old and new share the bytes before start and after
 * end); memo is old's (None: old is hashed here). With cut, blocks is textdiff._novel_blocks_py(old, new[start:stop]) where
 * stop leaves out the region's last newline, as textdiff.changed_regions cuts. */
PyObject *
td_narrow(PyObject *Py_UNUSED(module), PyObject *args)
{
    const unsigned char *old, *new;
    Py_ssize_t old_len, len, start, end, context, context_bytes;
    PyObject *memo_arg;
    int cut;
    if (!PyArg_ParseTuple(args, "y#y#nnnnOp:narrow", &old, &old_len, &new, &len, &start, &end, &context,
                          &context_bytes, &memo_arg, &cut)
        || td_check_context(context, context_bytes) < 0) {
        return NULL;
    }
    if (start < 0 || start >= end || end > len || start > old_len || len - end > old_len - start
        || (start > 0 && new[start - 1] != '\n') || (end < len && new[end - 1] != '\n')) {
        PyErr_SetString(PyExc_ValueError, "not a changed region of whole lines");
        return NULL;
    }
    Lines old_lines = {0, NULL, NULL}, own = {0, NULL, NULL}, middle = {0, NULL, NULL};
    if (memo_arg != Py_None) {
        Memo *memo = PyCapsule_GetPointer(memo_arg, MEMO_NAME);
        if (memo == NULL) {
            return NULL;
        }
        if (memo->text_len != old_len) {
            PyErr_SetString(PyExc_ValueError, "the memo is not of this old version");
            return NULL;
        }
        old_lines = memo->lines;
    }
    else {
        old_lines = own = td_lines_of(old, old_len, 0);
    }
    /* The middle: new's lines that start in [start, end); to the end of new (its last, maybe empty, line) when
     * end == len. The region cut is the same lines, without that empty last line. */
    PyObject *blocks = NULL, *memo = NULL;
    unsigned char *known = NULL;
    Py_ssize_t old_end = end < len ? end - len + old_len : -1;
    if (old_lines.hash != NULL && old_lines.start != NULL) {
        Py_ssize_t from = line_at(&old_lines, start), to = old_end < 0 ? old_lines.count : line_at(&old_lines, old_end);
        middle = aligned(old, &old_lines, from, to, new + start, (end < len ? end - 1 : len) - start, &known);
    }
    if (old_lines.hash == NULL || old_lines.start == NULL || middle.hash == NULL || middle.start == NULL || known == NULL) {
        PyErr_NoMemory();
    }
    else if (cut) {
        Lines region = middle;
        region.count -= end == len && new[len - 1] == '\n';
        blocks = td_blocks_against(old, &old_lines, new + start, &region, known, context, context_bytes);
    }
    else {
        blocks = Py_NewRef(Py_None);
    }
    if (blocks != NULL) {
        memo = spliced(&old_lines, &middle, start, old_end, len);
    }
    PyMem_Free(known);
    td_lines_free(&own);
    td_lines_free(&middle);
    if (memo == NULL) {
        Py_XDECREF(blocks);
        return NULL;
    }
    return Py_BuildValue("(NNn)", blocks, memo, ((Memo *)PyCapsule_GetPointer(memo, MEMO_NAME))->lines.count);
}
