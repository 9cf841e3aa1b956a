from custody.cli import main

main()
