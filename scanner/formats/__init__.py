"""Pure parsers of the file formats both sources and detectors read (no I/O, no detection)."""
