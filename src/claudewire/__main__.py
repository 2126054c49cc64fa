"""`python -m claudewire` runs the command line."""

from claudewire.cli import main

main()
