from scanner.cli import console

raise SystemExit(console())
