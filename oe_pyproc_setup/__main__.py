from oe_pyproc_setup.entry import main

main()
