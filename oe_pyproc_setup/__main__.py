from oe_pyproc_setup.cli import main

main()
