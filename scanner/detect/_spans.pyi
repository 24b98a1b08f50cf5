"""The C span search (``_spans.c``); ``decode.py_candidates`` and ``decode.py_escapes`` are its Python twins."""

# Both take any object with the buffer protocol (PyObject_GetBuffer), as tests/test_spans.py checks; str is a TypeError.
_Buffer = bytes | bytearray | memoryview

def candidates(content: _Buffer) -> list[tuple[int, int, str]]: ...
def escapes(content: _Buffer) -> int: ...
