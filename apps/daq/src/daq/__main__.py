from daq.cli import main

main()
