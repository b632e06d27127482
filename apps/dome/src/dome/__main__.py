from dome.cli import entry

entry()
