from redistill.cli import main

main()
